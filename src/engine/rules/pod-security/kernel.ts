// Checks on what a pod may change in the kernel's view: /proc masking (procMount) and sysctls.
import type { PodView, Sysctl } from '../../pod.ts';
import type { Problem, PssCheck } from './check.ts';
import { NONE, containerProblem, containers, inUserNamespace, quote } from './check.ts';

// Unset and "Default" keep the runtime's /proc masks; anything else (Unmasked) removes them.
function procMountMasked(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    const procMount = c.sc?.procMount;
    if (procMount !== undefined && procMount !== 'Default')
      (out ??= []).push(
        containerProblem(
          c,
          'procMount',
          `must not set securityContext.procMount to ${quote(procMount)}`,
        ),
      );
  }
  return out ?? NONE;
}

// From 1.35 baseline lets pods in a user namespace unmask /proc: root there is not root on the node.
function procMountBaseline135(pod: PodView): Problem[] {
  return inUserNamespace(pod) ? NONE : procMountMasked(pod);
}

// Sysctls upstream deems namespaced and isolated from other pods, by the minor that allowed them.
const SYSCTLS_1_0 = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
];
const SYSCTLS_1_27 = [...SYSCTLS_1_0, 'net.ipv4.ip_local_reserved_ports'];
const SYSCTLS_1_29 = [
  ...SYSCTLS_1_27,
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];
const SYSCTLS_1_32 = [...SYSCTLS_1_29, 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem'];

function sysctls(allowedList: readonly string[]) {
  const allowed = new Set(allowedList);
  return (pod: PodView): Problem[] => {
    const list = pod.spec.securityContext?.sysctls;
    if (list === undefined) return NONE;
    let out: Problem[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as Sysctl;
      if (!allowed.has(s.name))
        (out ??= []).push({
          path: `spec.securityContext.sysctls[${i}].name`,
          message: `pod must not set the sysctl ${quote(s.name)}`,
        });
    }
    return out ?? NONE;
  };
}

export const KERNEL_CHECKS: readonly PssCheck[] = [
  {
    id: 'procMount',
    level: 'baseline',
    versions: [
      { since: 0, check: procMountMasked },
      { since: 35, check: procMountBaseline135 },
    ],
  },
  {
    id: 'procMount_restricted',
    level: 'restricted',
    // Restricted keeps the unconditional rule once baseline relaxed it.
    versions: [{ since: 35, check: procMountMasked, overrides: ['procMount'] }],
  },
  {
    id: 'sysctls',
    level: 'baseline',
    versions: [
      { since: 0, check: sysctls(SYSCTLS_1_0) },
      { since: 27, check: sysctls(SYSCTLS_1_27) },
      { since: 29, check: sysctls(SYSCTLS_1_29) },
      { since: 32, check: sysctls(SYSCTLS_1_32) },
    ],
  },
];
