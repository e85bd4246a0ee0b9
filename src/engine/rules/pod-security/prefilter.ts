// One pass over a pod's containers that proves most Pod Security checks can't find anything, so
// they aren't run: on a compliant pod, nineteen checks each walking every container cost more than
// the rest of the evaluation. A check is skipped only when none of the fields it reports on is set
// in a way any of its versions (at any minor) could report; otherwise it runs in full, in its
// place, so findings and their order are exactly the checks' own.
import type { ContainerRef, Handler, PodView } from '../../pod.ts';

// What a container sets that some check reports on.
const PRIVILEGED = 1 << 0;
const HOST_PORT = 1 << 1;
const WINDOWS_HOST_PROCESS = 1 << 2;
const HANDLER_HOST = 1 << 3;
const APPARMOR = 1 << 4;
const SELINUX = 1 << 5;
const PROC_MOUNT = 1 << 6;
const SECCOMP_SET_BAD = 1 << 7;
const SECCOMP_NOT_GOOD = 1 << 8;
const CAPS_ADD = 1 << 9;
const CAPS_NO_DROP_ALL = 1 << 10;
const ESCALATION = 1 << 11;
const NOT_NON_ROOT = 1 << 12;
const ROOT_USER = 1 << 13;

const SECCOMP_TYPES = new Set(['RuntimeDefault', 'Localhost']);

function hostHandler(h: Handler | undefined): boolean {
  return h !== undefined && (!!h.httpGetHost || !!h.tcpSocketHost);
}

/** The flags above that one container raises. */
function containerFlags(ref: ContainerRef): number {
  const c = ref.container;
  const sc = ref.sc;
  let f = 0;
  for (const p of c.ports) if (p.hostPort !== undefined && p.hostPort !== 0) f |= HOST_PORT;
  if (
    hostHandler(c.livenessProbe) ||
    hostHandler(c.readinessProbe) ||
    hostHandler(c.startupProbe) ||
    hostHandler(c.lifecycle?.postStart) ||
    hostHandler(c.lifecycle?.preStop)
  )
    f |= HANDLER_HOST;
  if (sc === undefined) return f | SECCOMP_NOT_GOOD | CAPS_NO_DROP_ALL | ESCALATION | NOT_NON_ROOT;
  if (sc.privileged === true) f |= PRIVILEGED;
  if (sc.windowsOptions?.hostProcess === true) f |= WINDOWS_HOST_PROCESS;
  if (sc.appArmorProfile !== undefined) f |= APPARMOR;
  if (sc.seLinuxOptions !== undefined) f |= SELINUX;
  if (sc.procMount !== undefined && sc.procMount !== 'Default') f |= PROC_MOUNT;
  const seccomp = sc.seccompProfile;
  if (seccomp === undefined) f |= SECCOMP_NOT_GOOD;
  else if (!SECCOMP_TYPES.has(seccomp.type ?? '')) f |= SECCOMP_SET_BAD | SECCOMP_NOT_GOOD;
  const caps = sc.capabilities;
  if (caps?.add !== undefined) f |= CAPS_ADD;
  if (caps?.drop === undefined || !caps.drop.includes('ALL')) f |= CAPS_NO_DROP_ALL;
  if (sc.allowPrivilegeEscalation !== false) f |= ESCALATION;
  if (sc.runAsNonRoot !== true) f |= NOT_NON_ROOT;
  if (sc.runAsUser === 0) f |= ROOT_USER;
  return f;
}

function annotated(pod: PodView, marker: string): boolean {
  for (const key in pod.metadata.annotations) if (key.includes(marker)) return true;
  return false;
}

interface Gate {
  /** Container flags any of which makes the check run. */
  flags: number;
  /** Pod-level fields the check also reads: true makes it run. */
  pod?: (pod: PodView) => boolean;
}

/**
 * Checks with a container walk, by ID. Checks not listed (pod-level only: host namespaces,
 * volumes, sysctls) always run.
 */
const GATES: ReadonlyMap<string, Gate> = new Map<string, Gate>([
  ['privileged', { flags: PRIVILEGED }],
  ['hostPorts', { flags: HOST_PORT }],
  [
    'windowsHostProcess',
    {
      flags: WINDOWS_HOST_PROCESS,
      pod: (p) => p.spec.securityContext?.windowsOptions !== undefined,
    },
  ],
  ['hostProbesAndHostLifecycle', { flags: HANDLER_HOST }],
  [
    'appArmorProfile',
    {
      flags: APPARMOR,
      pod: (p) => p.spec.securityContext?.appArmorProfile !== undefined || annotated(p, 'apparmor'),
    },
  ],
  [
    'seLinuxOptions',
    { flags: SELINUX, pod: (p) => p.spec.securityContext?.seLinuxOptions !== undefined },
  ],
  ['procMount', { flags: PROC_MOUNT }],
  ['procMount_restricted', { flags: PROC_MOUNT }],
  [
    'seccompProfile_baseline',
    {
      flags: SECCOMP_SET_BAD,
      // Before 1.19 this check reads the seccomp annotations, and every container name.
      pod: (p) => p.spec.securityContext?.seccompProfile !== undefined || annotated(p, 'seccomp'),
    },
  ],
  [
    'seccompProfile_restricted',
    { flags: SECCOMP_NOT_GOOD, pod: (p) => p.spec.securityContext?.seccompProfile !== undefined },
  ],
  ['capabilities_baseline', { flags: CAPS_ADD }],
  ['capabilities_restricted', { flags: CAPS_ADD | CAPS_NO_DROP_ALL }],
  ['allowPrivilegeEscalation', { flags: ESCALATION }],
  [
    'runAsNonRoot',
    { flags: NOT_NON_ROOT, pod: (p) => p.spec.securityContext?.runAsNonRoot !== undefined },
  ],
  ['runAsUser', { flags: ROOT_USER, pod: (p) => p.spec.securityContext?.runAsUser !== undefined }],
]);

/** The gate of a check, or undefined when the check always runs. */
export function gateOf(id: string): Gate | undefined {
  return GATES.get(id);
}

/** The union of the flags of the pod's containers. */
export function podFlags(refs: readonly ContainerRef[]): number {
  let f = 0;
  for (let i = 0; i < refs.length; i++) f |= containerFlags(refs[i] as ContainerRef);
  return f;
}

/** Can the gated check find nothing on this pod? When in doubt (an odd hand-built view), no. */
export function skippable(gate: Gate, flags: number, pod: PodView): boolean {
  if ((gate.flags & flags) !== 0) return false;
  try {
    return gate.pod === undefined || !gate.pod(pod);
  } catch {
    return false;
  }
}

export type { Gate as PssGate };
