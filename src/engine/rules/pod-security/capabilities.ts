// Linux capabilities: baseline allows adding only the container runtime's default set; restricted
// requires dropping ALL and allows adding back only NET_BIND_SERVICE, and replaces the baseline
// check from 1.22 on.
import type { PodView } from '../../pod.ts';
import type { Problem, PssCheck } from './check.ts';
import { NONE, containerProblem, containers, isWindowsPod, quote } from './check.ts';

// The default capability set of container runtimes: adding these changes nothing.
const BASELINE_ALLOWED = new Set([
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
]);

function list(values: string[]): string {
  const shown = values.slice(0, 16).map(quote).join(', ');
  return values.length > 16 ? `${shown}, …` : shown;
}

/** The added capabilities `allowed` refuses, or undefined when there are none (the usual case). */
function refused(
  add: readonly string[] | undefined,
  allowed: (cap: string) => boolean,
): string[] | undefined {
  if (add === undefined) return undefined;
  for (const cap of add) if (!allowed(cap)) return add.filter((c) => !allowed(c));
  return undefined;
}

const baselineAllowed = (cap: string): boolean => BASELINE_ALLOWED.has(cap);
const restrictedAllowed = (cap: string): boolean => cap === 'NET_BIND_SERVICE';

function capabilitiesBaseline(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    // Exact, case-sensitive names, as upstream compares them.
    const bad = refused(c.sc?.capabilities?.add, baselineAllowed);
    if (bad !== undefined)
      (out ??= []).push(
        containerProblem(
          c,
          'capabilities.add',
          `must not add ${list(bad)} to securityContext.capabilities`,
        ),
      );
  }
  return out ?? NONE;
}

function capabilitiesRestricted(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    const caps = c.sc?.capabilities;
    if (caps?.drop === undefined || !caps.drop.includes('ALL'))
      (out ??= []).push(
        containerProblem(
          c,
          'capabilities.drop',
          'must set securityContext.capabilities.drop=["ALL"]',
        ),
      );
    const bad = refused(caps?.add, restrictedAllowed);
    if (bad !== undefined)
      (out ??= []).push(
        containerProblem(
          c,
          'capabilities.add',
          `must not add ${list(bad)} to securityContext.capabilities (only NET_BIND_SERVICE)`,
        ),
      );
  }
  return out ?? NONE;
}

// The API server refuses capabilities on Windows pods, so upstream stops requiring drop ALL there.
function capabilitiesRestrictedNotWindows(pod: PodView): Problem[] {
  return isWindowsPod(pod) ? NONE : capabilitiesRestricted(pod);
}

export const CAPABILITY_CHECKS: readonly PssCheck[] = [
  {
    id: 'capabilities_baseline',
    level: 'baseline',
    versions: [{ since: 0, check: capabilitiesBaseline }],
  },
  {
    id: 'capabilities_restricted',
    level: 'restricted',
    versions: [
      { since: 22, check: capabilitiesRestricted, overrides: ['capabilities_baseline'] },
      { since: 25, check: capabilitiesRestrictedNotWindows, overrides: ['capabilities_baseline'] },
    ],
  },
];
