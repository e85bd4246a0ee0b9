// Regular expressions that run in time linear in their input, for text an attacker controls (pod
// commands, args, images). JS RegExp backtracks: `(a+)+$` over 30 characters already takes seconds,
// so every user pattern and every built-in indicator goes through RE2 (the re2js port) instead.
// Syntax is RE2's, as in Go, Kyverno and Gatekeeper: `(?i)` flags, no lookaround, no backreferences.
import { RE2JS } from 're2js';

/** Longest pattern accepted: deniedPatterns are short idioms, not programs. */
export const MAX_PATTERN_LENGTH = 1024;

/**
 * Largest compiled program accepted: a coarse sanity bound. Matching stays linear in the input, but
 * once the DFA cache overflows re2js simulates the NFA, paying for every state active at once. The
 * expensive construct is a counted repetition of a wide class: on 64 KiB of crafted input
 * `(?s)(.{0,10}x){3}!` (size 72) takes ~10 ms and `(?s)(.{0,40}x){2}!` (size 169) ~1 s, while a
 * list of 28 literal words (size 264) takes ~6 ms. Ordinary deniedPatterns compile to under 100.
 */
export const MAX_PROGRAM_SIZE = 500;

/** Where a pattern matched, and what it matched. */
export interface SafeMatch {
  index: number;
  text: string;
}

export interface SafeRegex {
  /** The pattern as written. */
  readonly source: string;
  /** Unanchored search: does the pattern match anywhere in `input`? */
  test(input: string): boolean;
  /** The leftmost match, or undefined. Slower than `test`; call it once you know there is a match. */
  find(input: string): SafeMatch | undefined;
}

export type CompileResult = { ok: true; regex: SafeRegex } | { ok: false; message: string };

const SHOWN_PATTERN_CHARS = 100;

function shown(pattern: string): string {
  const clipped =
    pattern.length > SHOWN_PATTERN_CHARS ? `${pattern.slice(0, SHOWN_PATTERN_CHARS)}…` : pattern;
  return JSON.stringify(clipped);
}

/** RE2 syntax errors read like Go's: "error parsing regexp: missing closing ]: `[`". */
function describe(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const prefix = 'error parsing regexp: ';
  const reason = raw.startsWith(prefix) ? raw.slice(prefix.length) : raw;
  const backref = reason.indexOf('escape sequence: `\\');
  const perlOnly =
    reason.includes('Perl syntax') ||
    reason.includes('named capture') ||
    (backref >= 0 && '0123456789'.includes(reason.charAt(backref + 19) || 'x'));
  const hint = perlOnly
    ? ' (RE2 syntax, as in Go: no lookahead, lookbehind or backreferences)'
    : '';
  return `invalid RE2 regular expression: ${reason.slice(0, 200)}${hint}`;
}

class Re2Regex implements SafeRegex {
  readonly source: string;
  readonly #re: RE2JS;

  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.#re = re;
  }

  test(input: string): boolean {
    return this.#re.test(input);
  }

  find(input: string): SafeMatch | undefined {
    const m = this.#re.matcher(input);
    if (!m.find()) return undefined;
    return { index: m.start(), text: m.group() ?? '' };
  }
}

/** Compiles a user or built-in pattern; problems come back as a message, never as an exception. */
export function compileSafeRegex(pattern: string): CompileResult {
  if (typeof pattern !== 'string') return { ok: false, message: 'pattern must be a string' };
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return {
      ok: false,
      message: `pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`,
    };
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    return { ok: false, message: `${describe(err)} in ${shown(pattern)}` };
  }
  const size = re.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    return {
      ok: false,
      message: `pattern ${shown(pattern)} is too complex (compiled size ${size}, at most ${MAX_PROGRAM_SIZE}); large counted repetitions like {0,100} are the usual cause`,
    };
  }
  return { ok: true, regex: new Re2Regex(pattern, re) };
}

/** For the engine's own patterns: a bad one is a bug, caught by the first test run at module load. */
export function mustCompile(pattern: string): SafeRegex {
  const r = compileSafeRegex(pattern);
  if (!r.ok) throw new Error(`built-in pattern: ${r.message}`);
  return r.regex;
}
