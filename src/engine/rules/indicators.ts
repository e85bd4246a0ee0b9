// Built-in T1610 behaviour indicators (docs/api.md section 3): reverse shells, download-and-execute,
// crypto miners and the CVE-2024-21626 working directory. They read what a container will run:
// its command joined with its args, and the exec commands of its probes and lifecycle hooks.
// Attacker text only meets linear-time matching (RE2 or string scanning), and each idiom is gated
// by a few substring checks so an ordinary command line costs a handful of `includes` calls.
import { allContainers, type Container, type ContainerRef, type Handler } from '../pod.ts';
import type { Finding } from '../violation.ts';
import type { RuleFamily } from './rule-family.ts';
import { TokenGate, type Detection } from './indicators/idiom.ts';
import { detectDownloadExec, downloadExecTokens } from './indicators/download-exec.ts';
import { detectMinerImage, detectMinerText, minerTextTokens } from './indicators/miner.ts';
import { procFdPath } from './indicators/proc-fd.ts';
import { detectReverseShell, reverseShellTokens } from './indicators/reverse-shell.ts';
import { excerpt, normalizeCommand } from './indicators/shell-text.ts';

type Detector = (text: string) => Detection | undefined;

const TEXT_RULES: readonly { rule: string; what: string; detect: Detector; bit: number }[] = [
  { rule: 'indicator.reverseShell', what: 'reverse shell', detect: detectReverseShell, bit: 1 },
  {
    rule: 'indicator.downloadExec',
    what: 'download and execute',
    detect: detectDownloadExec,
    bit: 2,
  },
  { rule: 'indicator.miner', what: 'crypto miner', detect: detectMinerText, bit: 4 },
];

/** One pass over a command line says which families could match at all; most match none. */
const FAMILIES = new TokenGate([reverseShellTokens, downloadExecTokens, minerTextTokens]);

function prepare(words: readonly string[]): string | undefined {
  return words.length === 0 ? undefined : normalizeCommand(words.join(' '));
}

/** prepare(command ++ args), without building the concatenated word list. */
function prepareLine(c: Container): string | undefined {
  if (c.args.length === 0) return prepare(c.command);
  if (c.command.length === 0) return prepare(c.args);
  return normalizeCommand(`${c.command.join(' ')} ${c.args.join(' ')}`);
}

/** A place a container runs commands from, whose text some family could match. */
interface Place {
  field: string;
  where: string;
  text: string;
  mask: number;
}

const NO_WORDS: readonly string[] = [];

/** Which families `[...first, ...second].join(' ')`, normalised, could match; from the words. */
function familiesOf(first: readonly string[], second: readonly string[]): number {
  const mask = FAMILIES.scanWords(first, second, false, true);
  if (mask !== -2) return mask;
  // `$IFS` rewriting moves token boundaries: scan the normalised text itself.
  return FAMILIES.scan(normalizeCommand([...first, ...second].join(' ')));
}

/** Appends the exec handler `name` to `places` when its text could match a family. */
function handlerPlace(
  places: Place[] | undefined,
  name: string,
  h: Handler | undefined,
): Place[] | undefined {
  if (h?.exec === undefined || h.exec.length === 0) return places;
  const mask = familiesOf(h.exec, NO_WORDS);
  if (mask === 0) return places;
  const text = prepare(h.exec) as string;
  (places ??= []).push({ field: `${name}.exec.command`, where: ` in ${name}`, text, mask });
  return places;
}

function add(
  out: Finding[],
  ref: ContainerRef,
  rule: string,
  field: string,
  message: string,
): void {
  out.push({ rule, container: ref.container.name, path: `${ref.path}.${field}`, message });
}

function checkContainer(ref: ContainerRef, out: Finding[]): void {
  const c = ref.container;

  const image = c.image === '' ? undefined : detectMinerImage(c.image);
  if (image)
    add(out, ref, 'indicator.miner', 'image', `crypto miner: ${image.label} ${image.evidence}`);

  const cwd = c.workingDir === undefined ? undefined : procFdPath(c.workingDir);
  if (cwd !== undefined) {
    add(
      out,
      ref,
      'indicator.procFdWorkingDir',
      'workingDir',
      `workingDir ${excerpt(c.workingDir ?? '')} resolves to ${excerpt(cwd)}, under a process's fd directory (runc fd leak, CVE-2024-21626)`,
    );
  }

  // Each place a container runs commands from, with the families its text could match; most
  // containers have none, and then nothing is allocated.
  let places: Place[] | undefined;
  // The words are scanned where they lie; a text is built only for a place some family could match.
  if (c.command.length + c.args.length > 0) {
    const mask = familiesOf(c.command, c.args);
    if (mask !== 0) places = [{ field: '', where: '', text: prepareLine(c) as string, mask }];
  }
  places = handlerPlace(places, 'livenessProbe', c.livenessProbe);
  places = handlerPlace(places, 'readinessProbe', c.readinessProbe);
  places = handlerPlace(places, 'startupProbe', c.startupProbe);
  places = handlerPlace(places, 'lifecycle.postStart', c.lifecycle?.postStart);
  places = handlerPlace(places, 'lifecycle.preStop', c.lifecycle?.preStop);
  if (places === undefined) return;
  for (const r of TEXT_RULES) {
    for (const p of places) {
      const found = (p.mask & r.bit) === 0 ? undefined : r.detect(p.text);
      if (!found) continue;
      let field = p.field;
      if (field === '') {
        // The command line: name the field the idiom sits in; one spanning both is the command's.
        const args = c.command.length > 0 ? prepare(c.args) : undefined;
        const inArgs = c.command.length === 0 || (args !== undefined && r.detect(args));
        field = inArgs ? 'args' : 'command';
      }
      add(out, ref, r.rule, field, `${r.what}${p.where}: ${found.label}: ${found.evidence}`);
    }
  }
}

/**
 * spec.rules.indicators: the built-in indicators, for every container (init and ephemeral
 * included). They don't depend on the policy: there is nothing to compile but "on".
 */
export const indicatorRules: RuleFamily<true> = {
  block: 'indicators',
  compile: (spec) => (spec.rules.indicators?.enabled ? true : undefined),
  judge: (pod, _on, _ctx, out) => {
    for (const ref of allContainers(pod.spec)) checkContainer(ref, out);
  },
};
