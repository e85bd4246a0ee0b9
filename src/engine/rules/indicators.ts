// Built-in T1610 behaviour indicators (api.md section 3): reverse shells, download-and-execute,
// crypto miners and the CVE-2024-21626 working directory. They read what a container will run:
// its command joined with its args, and the exec commands of its probes and lifecycle hooks.
// Attacker text only meets linear-time matching (RE2 or string scanning), and each idiom is gated
// by a few substring checks so an ordinary command line costs a handful of `includes` calls.
import {
  allContainers,
  type Container,
  type ContainerRef,
  type Handler,
  type PodView,
} from '../pod.ts';
import type { Finding } from '../violation.ts';
import type { Detection } from './indicators/idiom.ts';
import { detectDownloadExec } from './indicators/download-exec.ts';
import { detectMinerImage, detectMinerText } from './indicators/miner.ts';
import { procFdPath } from './indicators/proc-fd.ts';
import { detectReverseShell } from './indicators/reverse-shell.ts';
import { excerpt, normalizeCommand } from './indicators/shell-text.ts';

type Detector = (text: string, lower: string) => Detection | undefined;

const TEXT_RULES: readonly { rule: string; what: string; detect: Detector }[] = [
  { rule: 'indicator.reverseShell', what: 'reverse shell', detect: detectReverseShell },
  { rule: 'indicator.downloadExec', what: 'download and execute', detect: detectDownloadExec },
  { rule: 'indicator.miner', what: 'crypto miner', detect: detectMinerText },
];

interface Text {
  text: string;
  lower: string;
}

function prepare(words: readonly string[]): Text | undefined {
  if (words.length === 0) return undefined;
  const text = normalizeCommand(words.join(' '));
  return { text, lower: text.toLowerCase() };
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

function checkContainer(ref: ContainerRef, out: Finding[]): void {
  const c = ref.container;
  const add = (rule: string, field: string, message: string): void => {
    out.push({ rule, container: c.name, path: `${ref.path}.${field}`, message });
  };

  const image = c.image === '' ? undefined : detectMinerImage(c.image);
  if (image) add('indicator.miner', 'image', `crypto miner: ${image.label} ${image.evidence}`);

  const cwd = c.workingDir === undefined ? undefined : procFdPath(c.workingDir);
  if (cwd !== undefined) {
    add(
      'indicator.procFdWorkingDir',
      'workingDir',
      `workingDir ${excerpt(c.workingDir ?? '')} resolves to ${excerpt(cwd)}, under a process's fd directory (runc fd leak, CVE-2024-21626)`,
    );
  }

  const cmdline = prepare([...c.command, ...c.args]);
  const execs: [string, Text][] = [];
  for (const [name, h] of handlers(c)) {
    const t = h?.exec === undefined ? undefined : prepare(h.exec);
    if (t) execs.push([name, t]);
  }
  for (const r of TEXT_RULES) {
    const found = cmdline && r.detect(cmdline.text, cmdline.lower);
    if (found) {
      // A finding names the field the idiom sits in; one spanning both is the command's.
      const args = c.command.length > 0 ? prepare(c.args) : undefined;
      const inArgs = c.command.length === 0 || (args && r.detect(args.text, args.lower));
      add(r.rule, inArgs ? 'args' : 'command', `${r.what}: ${found.label}: ${found.evidence}`);
    }
    for (const [name, t] of execs) {
      const hit = r.detect(t.text, t.lower);
      if (hit)
        add(r.rule, `${name}.exec.command`, `${r.what} in ${name}: ${hit.label}: ${hit.evidence}`);
    }
  }
}

/** Findings of the built-in indicators for every container (init and ephemeral included). */
export function checkIndicators(pod: PodView): Finding[] {
  const out: Finding[] = [];
  for (const ref of allContainers(pod.spec)) checkContainer(ref, out);
  return out;
}
