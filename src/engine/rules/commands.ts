// The user's `spec.rules.commands.deniedPatterns`: RE2 regexes over what each container runs.
// The text matched is the container's `command` followed by its `args`, joined with single spaces
// (`["sh", "-c", "nsenter -t 1 -m sh"]` -> `sh -c nsenter -t 1 -m sh`), searched unanchored; add
// `^`/`$` to anchor. Probe and lifecycle exec commands are matched the same way on their own.
import { allContainers, type Container, type Handler, type PodView } from '../pod.ts';
import type { SafeRegex } from '../safe-regex.ts';
import type { Finding } from '../violation.ts';
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

function handlers(c: Container): [string, Handler | undefined][] {
  return [
    ['livenessProbe', c.livenessProbe],
    ['readinessProbe', c.readinessProbe],
    ['startupProbe', c.startupProbe],
    ['lifecycle.postStart', c.lifecycle?.postStart],
    ['lifecycle.preStop', c.lifecycle?.preStop],
  ];
}

/** One finding per container and place (command line, each exec handler) for the first pattern that matches. */
export function checkCommands(pod: PodView, patterns: readonly CompiledPattern[]): Finding[] {
  const out: Finding[] = [];
  if (patterns.length === 0) return out;
  for (const { container: c, path } of allContainers(pod.spec)) {
    const places: [string, string][] = [];
    if (c.command.length + c.args.length > 0) {
      const text = commandLine([...c.command, ...c.args]);
      places.push([c.command.length > 0 ? 'command' : 'args', text]);
    }
    for (const [name, h] of handlers(c)) {
      if (h?.exec && h.exec.length > 0) places.push([`${name}.exec.command`, commandLine(h.exec)]);
    }
    for (const [place, text] of places) {
      const i = patterns.findIndex((p) => p.regex.test(text));
      const p = patterns[i];
      if (!p) continue;
      const onCommandLine = place === 'command' || place === 'args';
      // Name the field the match is in: args when the pattern matches them alone.
      const field =
        place === 'command' && c.args.length > 0 && p.regex.test(commandLine(c.args))
          ? 'args'
          : place;
      const m = p.regex.find(text);
      out.push({
        rule: 'command.denied',
        container: c.name,
        path: `${path}.${field}`,
        message: `${onCommandLine ? 'command line' : place} matches deniedPatterns[${i}] ${excerpt(p.source)}: ${excerpt(m?.text ?? '')}`,
      });
    }
  }
  return out;
}
