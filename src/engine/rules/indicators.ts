// Built-in T1610 behaviour indicators (docs/api.md section 3): reverse shells, download-and-execute,
// crypto miners and the CVE-2024-21626 working directory. They read what a container will run:
// its command joined with its args, and the exec commands of its probes and lifecycle hooks.
// Attacker text only meets linear-time matching (RE2 or string scanning), and each idiom is gated
// by a few substring checks so an ordinary command line costs a handful of `includes` calls.
import { allContainers, type ContainerRef, type Handler } from '../pod.ts';
import type { Finding } from '../violation.ts';
import type { RuleFamily } from './rule-family.ts';
import { TokenGate, type Detection } from './indicators/idiom.ts';
import { detectDownloadExec, downloadExecTokens } from './indicators/download-exec.ts';
import { detectMinerImage, detectMinerText, minerTextTokens } from './indicators/miner.ts';
import { procFdPath } from './indicators/proc-fd.ts';
import { detectReverseShell, reverseShellTokens } from './indicators/reverse-shell.ts';
import { excerpt, normalizeCommand } from './indicators/shell-text.ts';
import { literalEnv, runtimeArgv, substituteShellVars } from './container-env.ts';

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

/** The words of a place joined, before normalising (env substitution needs the quotes). */
function joinWords(first: readonly string[], second: readonly string[]): string {
  if (second.length === 0) return first.join(' ');
  if (first.length === 0) return second.join(' ');
  return `${first.join(' ')} ${second.join(' ')}`;
}

/**
 * The texts the families judge for a place: the normalised command line, and, when the
 * container's literal env (or an assignment in the line) gives a `$VAR` a value, the line the
 * shell would run with it replaced (container-env.ts).
 */
function textsOf(raw: string, env: ReadonlyMap<string, string>): string[] {
  const text = normalizeCommand(raw);
  const substituted = substituteShellVars(raw, env);
  return substituted === raw ? [text] : [text, normalizeCommand(substituted)];
}

/** A place a container runs commands from, whose text some family could match. */
interface Place {
  field: string;
  where: string;
  texts: string[];
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

/**
 * The place for these words, when its text could match a family. The words are scanned where
 * they lie; texts are built only when some family could match, or a `$` could hide one.
 */
function place(
  field: string,
  where: string,
  first: readonly string[],
  second: readonly string[],
  env: () => ReadonlyMap<string, string>,
): Place | undefined {
  let mask = familiesOf(first, second);
  const raw = joinWords(first, second);
  const dollar = raw.includes('$');
  if (mask === 0 && !dollar) return undefined;
  const texts = dollar ? textsOf(raw, env()) : [normalizeCommand(raw)];
  for (const t of texts.slice(1)) mask |= FAMILIES.scan(t);
  return mask === 0 ? undefined : { field, where, texts, mask };
}

/** Appends the exec handler `name` to `places` when its text could match a family. */
function handlerPlace(
  places: Place[],
  name: string,
  h: Handler | undefined,
  env: () => ReadonlyMap<string, string>,
): void {
  if (h?.exec === undefined || h.exec.length === 0) return;
  const p = place(`${name}.exec.command`, ` in ${name}`, h.exec, NO_WORDS, env);
  if (p) places.push(p);
}

/** The first text of the place the detector finds something in. */
function detectIn(texts: readonly string[], detect: Detector): Detection | undefined {
  for (const t of texts) {
    const found = detect(t);
    if (found) return found;
  }
  return undefined;
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
  // containers have none. The command line is judged as the kubelet expands it.
  const { command, args } = runtimeArgv(c);
  let env: ReadonlyMap<string, string> | undefined;
  const envOf = (): ReadonlyMap<string, string> => (env ??= literalEnv(c.env));
  const places: Place[] = [];
  if (command.length + args.length > 0) {
    const line = place('', '', command, args, envOf);
    if (line) places.push(line);
  }
  handlerPlace(places, 'livenessProbe', c.livenessProbe, envOf);
  handlerPlace(places, 'readinessProbe', c.readinessProbe, envOf);
  handlerPlace(places, 'startupProbe', c.startupProbe, envOf);
  handlerPlace(places, 'lifecycle.postStart', c.lifecycle?.postStart, envOf);
  handlerPlace(places, 'lifecycle.preStop', c.lifecycle?.preStop, envOf);
  for (const r of TEXT_RULES) {
    for (const p of places) {
      const found = (p.mask & r.bit) === 0 ? undefined : detectIn(p.texts, r.detect);
      if (!found) continue;
      let field = p.field;
      if (field === '') {
        // The command line: name the field the idiom sits in; one spanning both is the command's.
        const inArgs =
          command.length === 0 ||
          (args.length > 0 && detectIn(textsOf(args.join(' '), envOf()), r.detect) !== undefined);
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
  sharedKey: () => '',
};
