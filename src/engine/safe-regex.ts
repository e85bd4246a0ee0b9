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
  /**
   * Lower-case ASCII text that every match holds, ignoring ASCII case, when the input is all ASCII
   * (see requiredLiteral); undefined when the pattern has none we can prove.
   */
  readonly literal?: string;
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
  readonly literal: string | undefined;
  readonly #re: RE2JS;

  constructor(source: string, re: RE2JS) {
    this.source = source;
    this.literal = requiredLiteral(source);
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

// Characters that stand for themselves in RE2 syntax wherever they appear outside a class.
const LITERAL = /^[A-Za-z0-9 _/:=,@%-]$/;
// Escapes of one character that match no literal text of the run: `\s`, `\b`, `\.`, `\-`, ...
const SIMPLE_ESCAPE = /^(?:[sSdDwWbBAzntrfva]|[!-/:-@[-`{-~])$/;
const REPEAT = /^\{[0-9]+(?:,[0-9]*)?\}/;
const FLAG_GROUP = /^\(\?[imsU-]*\)/;

/**
 * The longest run of literal characters that every match of `pattern` must contain, lower-cased,
 * or undefined. A prefilter for text that can't match: deliberately conservative, it reads only
 * the top level of a pattern without `|`, drops a character a `?`, `*` or `{` makes optional, and
 * gives up on any syntax it doesn't fully model (`\Q`, `\x`, `\p`, octal escapes, odd braces).
 * Under `(?i)` RE2 folds `k` and `s` to non-ASCII letters too, so the literal is only a valid test
 * of text that is all ASCII; the caller must match other text without it.
 */
export function requiredLiteral(pattern: string): string | undefined {
  let best = '';
  let run = '';
  let depth = 0;
  const end = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    if (depth === 0 && LITERAL.test(ch)) {
      run += ch;
      continue;
    }
    switch (ch) {
      case '(': {
        // A flag group like `(?i)` is no atom: a quantifier after it applies to what came before.
        const flags = FLAG_GROUP.exec(pattern.slice(i, i + 16));
        if (flags) {
          i += flags[0].length - 1;
          break;
        }
        end();
        depth++;
        break;
      }
      case ')':
        end();
        if (--depth < 0) return undefined;
        break;
      case '|':
        if (depth === 0) return undefined;
        break;
      case '?':
      case '*':
        run = run.slice(0, -1); // the quantified character is optional
        end();
        break;
      case '{': {
        const m = REPEAT.exec(pattern.slice(i, i + 32));
        if (!m) return undefined;
        run = run.slice(0, -1);
        end();
        i += m[0].length - 1;
        break;
      }
      case '\\': {
        end();
        const next = pattern.charAt(i + 1);
        if (!SIMPLE_ESCAPE.test(next)) return undefined;
        i++;
        break;
      }
      case '[': {
        end();
        const close = classEnd(pattern, i);
        if (close < 0) return undefined;
        i = close;
        break;
      }
      case '+':
        // `x+y` always holds `xy`; a quantifier that follows (`x+?`, `x+(?s)*`) drops the `x`.
        break;
      default:
        end(); // `.`, `^`, `$` and anything unmodelled end the run
    }
  }
  end();
  return best === '' ? undefined : best.toLowerCase();
}

/** Index of the `]` closing the class opened at `open`, or -1. */
function classEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern.charAt(i) === '^') i++;
  if (pattern.charAt(i) === ']') i++; // a leading `]` is literal
  for (; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    if (ch === ']') return i;
    if (ch === '\\') i++;
    else if (ch === '[' && pattern.charAt(i + 1) === ':') {
      const named = pattern.indexOf(':]', i + 2);
      if (named < 0) return -1;
      i = named + 1;
    }
  }
  return -1;
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
