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
import { excerpt } from './indicators/shell-text.ts';

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

/** Index of the first pattern matching `[...first, ...second].join(' ')`, or -1. */
function firstMatch(
  patterns: readonly CompiledPattern[],
  g: PatternGate,
  first: readonly string[],
  second: readonly string[],
): number {
  // Non-ASCII text (-1: every bit set) skips the gate: `(?i)s` also matches U+017F. The words are
  // scanned where they lie: the text is built only when some pattern has to run.
  const mask = g.gate === undefined ? -1 : g.gate.scanWords(first, second, true, false);
  let text: string | undefined;
  for (let i = 0; i < patterns.length; i++) {
    const bit = g.bits[i] as number;
    if (bit !== 0 && (mask & bit) === 0) continue; // its literal is absent: it can't match
    text ??= joined(first, second);
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

/** One finding per container and place (command line, each exec handler) for the first pattern that matches. */
function commandsInto(pod: PodView, patterns: readonly CompiledPattern[], out: Finding[]): void {
  if (patterns.length === 0) return;
  const g = gateOf(patterns);
  for (const { container: c, path } of allContainers(pod.spec)) {
    if (c.command.length + c.args.length > 0) {
      const place = c.command.length > 0 ? 'command' : 'args';
      const i = firstMatch(patterns, g, c.command, c.args);
      if (i >= 0) denied(out, patterns, i, c, path, place, joined(c.command, c.args));
    }
    handler(out, patterns, g, c, path, 'livenessProbe', c.livenessProbe);
    handler(out, patterns, g, c, path, 'readinessProbe', c.readinessProbe);
    handler(out, patterns, g, c, path, 'startupProbe', c.startupProbe);
    handler(out, patterns, g, c, path, 'lifecycle.postStart', c.lifecycle?.postStart);
    handler(out, patterns, g, c, path, 'lifecycle.preStop', c.lifecycle?.preStop);
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
): void {
  if (!h?.exec || h.exec.length === 0) return;
  const i = firstMatch(patterns, g, h.exec, NO_WORDS);
  if (i >= 0) denied(out, patterns, i, c, path, `${name}.exec.command`, commandLine(h.exec));
}

function denied(
  out: Finding[],
  patterns: readonly CompiledPattern[],
  i: number,
  c: Container,
  path: string,
  place: string,
  text: string,
): void {
  const p = patterns[i] as CompiledPattern;
  const onCommandLine = place === 'command' || place === 'args';
  // Name the field the match is in: args when the pattern matches them alone.
  const field =
    place === 'command' && c.args.length > 0 && p.regex.test(commandLine(c.args)) ? 'args' : place;
  const m = p.regex.find(text);
  out.push({
    rule: 'command.denied',
    container: c.name,
    path: `${path}.${field}`,
    message: `${onCommandLine ? 'command line' : place} matches deniedPatterns[${i}] ${excerpt(p.source)}: ${excerpt(m?.text ?? '')}`,
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
};
