// The user's `spec.rules.commands.deniedPatterns`: RE2 regexes over what each container runs.
// The text matched is the container's `command` followed by its `args`, joined with single spaces
// (`["sh", "-c", "nsenter -t 1 -m sh"]` -> `sh -c nsenter -t 1 -m sh`), searched unanchored; add
// `^`/`$` to anchor. Probe and lifecycle exec commands are matched the same way on their own.
import { allContainers, type Container, type Handler, type PodView } from '../pod.ts';
import type { SafeRegex } from '../safe-regex.ts';
import type { Finding } from '../violation.ts';
import { compileSafeRegex } from '../safe-regex.ts';
import type { RuleFamily } from './rule-family.ts';
import { TokenGate } from './indicators/idiom.ts';
import { excerpt, normalizeCommand } from './indicators/shell-text.ts';
import { literalEnv, runtimeArgv, substituteShellVars } from './container-env.ts';

/** A deniedPatterns entry compiled once, when the policy is loaded (see compileSafeRegex). */
export interface CompiledPattern {
  /** The pattern as the user wrote it, for messages. */
  source: string;
  regex: SafeRegex;
}

/** The text a pattern sees: command then args, single spaces between. */
export function commandLine(words: readonly string[]): string {
  return words.join(' ');
}

/**
 * Which patterns a text could match, from one pass over it: each pattern with a required literal
 * (SafeRegex.literal) gets a bit, set when the literal occurs. A pattern without a bit always runs.
 */
interface PatternGate {
  gate: TokenGate | undefined;
  bits: number[];
}

const gates = new WeakMap<readonly CompiledPattern[], PatternGate>();

function gateOf(patterns: readonly CompiledPattern[]): PatternGate {
  let g = gates.get(patterns);
  if (g) return g;
  const groups: string[][] = [];
  const bits = patterns.map((p) => {
    const lit = p.regex.literal;
    if (lit === undefined || groups.length >= 31) return 0;
    groups.push([lit]);
    return 1 << (groups.length - 1);
  });
  g = { gate: groups.length > 0 ? new TokenGate(groups) : undefined, bits };
  gates.set(patterns, g);
  return g;
}

/** Index of the first pattern matching `text`, or -1; `mask` says which could (-1: all). */
function firstMatchIn(
  patterns: readonly CompiledPattern[],
  g: PatternGate,
  text: string,
  mask: number,
): number {
  for (let i = 0; i < patterns.length; i++) {
    const bit = g.bits[i] as number;
    if (bit !== 0 && (mask & bit) === 0) continue; // its literal is absent: it can't match
    if ((patterns[i] as CompiledPattern).regex.test(text)) return i;
  }
  return -1;
}

const NO_WORDS: readonly string[] = [];

/** Command then args joined, without building the concatenated word list. */
function joined(first: readonly string[], second: readonly string[]): string {
  if (second.length === 0) return commandLine(first);
  if (first.length === 0) return commandLine(second);
  return `${commandLine(first)} ${commandLine(second)}`;
}

/** Does a word hide text from the patterns: quotes or backslashes the shell drops, or a `$`? */
const EVASIVE = /['"\\$]/;

/**
 * The texts a pattern is tried on: the line as written, and, when a word could hide something,
 * the line as the shell would read it: quotes and backslashes dropped (`nsen''ter`), and `$VAR`
 * replaced by the container's literal env or an earlier assignment (`${c}rl`, container-env.ts).
 */
function variants(raw: string, env: () => ReadonlyMap<string, string>): string[] {
  if (!EVASIVE.test(raw)) return [raw];
  const out = [raw];
  const unquoted = normalizeCommand(raw);
  if (unquoted !== raw) out.push(unquoted);
  const substituted = normalizeCommand(substituteShellVars(raw, env()));
  if (!out.includes(substituted)) out.push(substituted);
  return out;
}

interface Match {
  index: number;
  text: string;
}

/** The first pattern matching any variant of `[...first, ...second].join(' ')`. */
function firstMatch(
  patterns: readonly CompiledPattern[],
  g: PatternGate,
  first: readonly string[],
  second: readonly string[],
  env: () => ReadonlyMap<string, string>,
): Match | undefined {
  const raw = joined(first, second);
  if (!EVASIVE.test(raw)) {
    // Non-ASCII text (-1: every bit set) skips the gate: `(?i)s` also matches U+017F. The words
    // are scanned where they lie.
    const mask = g.gate === undefined ? -1 : g.gate.scanWords(first, second, true, false);
    const index = firstMatchIn(patterns, g, raw, mask);
    return index < 0 ? undefined : { index, text: raw };
  }
  for (const text of variants(raw, env)) {
    const mask = g.gate === undefined ? -1 : g.gate.scanAscii(text);
    const index = firstMatchIn(patterns, g, text, mask);
    if (index >= 0) return { index, text };
  }
  return undefined;
}

/** One finding per container and place (command line, each exec handler) for the first pattern that matches. */
function commandsInto(pod: PodView, patterns: readonly CompiledPattern[], out: Finding[]): void {
  if (patterns.length === 0) return;
  const g = gateOf(patterns);
  for (const { container: c, path } of allContainers(pod.spec)) {
    let env: ReadonlyMap<string, string> | undefined;
    const envOf = (): ReadonlyMap<string, string> => (env ??= literalEnv(c.env));
    // The command line as the kubelet passes it to exec (`$(VAR)` expanded).
    const { command, args } = runtimeArgv(c);
    if (command.length + args.length > 0) {
      const place = command.length > 0 ? 'command' : 'args';
      const m = firstMatch(patterns, g, command, args, envOf);
      if (m) denied(out, patterns, m, { path, place, args, env: envOf, name: c.name });
    }
    handler(out, patterns, g, c, path, 'livenessProbe', c.livenessProbe, envOf);
    handler(out, patterns, g, c, path, 'readinessProbe', c.readinessProbe, envOf);
    handler(out, patterns, g, c, path, 'startupProbe', c.startupProbe, envOf);
    handler(out, patterns, g, c, path, 'lifecycle.postStart', c.lifecycle?.postStart, envOf);
    handler(out, patterns, g, c, path, 'lifecycle.preStop', c.lifecycle?.preStop, envOf);
  }
}

function handler(
  out: Finding[],
  patterns: readonly CompiledPattern[],
  g: PatternGate,
  c: Container,
  path: string,
  name: string,
  h: Handler | undefined,
  env: () => ReadonlyMap<string, string>,
): void {
  if (!h?.exec || h.exec.length === 0) return;
  const m = firstMatch(patterns, g, h.exec, NO_WORDS, env);
  if (m)
    denied(out, patterns, m, { path, place: `${name}.exec.command`, args: [], env, name: c.name });
}

interface Where {
  path: string;
  place: string;
  /** The container's args as executed, to name the field a match is in. */
  args: readonly string[];
  env: () => ReadonlyMap<string, string>;
  name: string;
}

function denied(out: Finding[], patterns: readonly CompiledPattern[], m: Match, w: Where): void {
  const p = patterns[m.index] as CompiledPattern;
  const onCommandLine = w.place === 'command' || w.place === 'args';
  // Name the field the match is in: args when the pattern matches them alone.
  const inArgs =
    w.place === 'command' &&
    w.args.length > 0 &&
    variants(commandLine(w.args), w.env).some((t) => p.regex.test(t));
  const field = inArgs ? 'args' : w.place;
  const found = p.regex.find(m.text);
  out.push({
    rule: 'command.denied',
    container: w.name,
    path: `${w.path}.${field}`,
    message: `${onCommandLine ? 'command line' : w.place} matches deniedPatterns[${m.index}] ${excerpt(p.source)}: ${excerpt(found?.text ?? '')}`,
  });
}

/** spec.rules.commands: command.denied, one RE2 regex per deniedPatterns entry. */
export const commandRules: RuleFamily<readonly CompiledPattern[]> = {
  block: 'commands',
  compile: (spec, problems) => {
    const patterns: CompiledPattern[] = [];
    spec.rules.commands?.deniedPatterns.forEach((source, i) => {
      const r = compileSafeRegex(source);
      if (r.ok) patterns.push({ source, regex: r.regex });
      else problems.push({ path: `spec.rules.commands.deniedPatterns[${i}]`, message: r.message });
    });
    return patterns.length > 0 ? patterns : undefined;
  },
  judge: (pod, patterns, _ctx, out) => commandsInto(pod, patterns, out),
  sharedKey: (patterns) => patterns.map((p) => p.source).join('\u0000'),
};
