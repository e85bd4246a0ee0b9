// Baseline checks that keep a pod off the host's own resources: privileged mode, host namespaces,
// host ports, Windows HostProcess and probe/lifecycle handlers aimed at other hosts.
import type { Handler, PodView } from '../../pod.ts';
import type { ContainerCtx, Problem, PssCheck } from './check.ts';
import { containerProblem, containers, quote } from './check.ts';

function privileged(pod: PodView): Problem[] {
  return containers(pod)
    .filter((c) => c.sc?.privileged === true)
    .map((c) => containerProblem(c, 'privileged', 'must not set securityContext.privileged=true'));
}

function hostNamespaces(pod: PodView): Problem[] {
  const out: Problem[] = [];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (pod.spec[field] === true)
      out.push({
        path: `spec.${field}`,
        message: `pod must not share the host namespace: ${field}=true`,
      });
  }
  return out;
}

function hostPorts(pod: PodView): Problem[] {
  const out: Problem[] = [];
  for (const c of containers(pod)) {
    c.ref.container.ports.forEach((p, i) => {
      // 0 and unset both mean "no host port".
      if (p.hostPort !== undefined && p.hostPort !== 0)
        out.push({
          container: c.name,
          path: `${c.ref.path}.ports[${i}].hostPort`,
          message: `container ${quote(c.name)} must not use hostPort ${p.hostPort}`,
        });
    });
  }
  return out;
}

function windowsHostProcess(pod: PodView): Problem[] {
  const out: Problem[] = [];
  const message = 'must not set securityContext.windowsOptions.hostProcess=true';
  if (pod.spec.securityContext?.windowsOptions?.hostProcess === true)
    out.push({
      path: 'spec.securityContext.windowsOptions.hostProcess',
      message: `pod ${message}`,
    });
  for (const c of containers(pod)) {
    if (c.sc?.windowsOptions?.hostProcess === true)
      out.push(containerProblem(c, 'windowsOptions.hostProcess', message));
  }
  return out;
}

const HANDLERS = [
  ['livenessProbe', (c: ContainerCtx) => c.ref.container.livenessProbe],
  ['readinessProbe', (c: ContainerCtx) => c.ref.container.readinessProbe],
  ['startupProbe', (c: ContainerCtx) => c.ref.container.startupProbe],
  ['lifecycle.postStart', (c: ContainerCtx) => c.ref.container.lifecycle?.postStart],
  ['lifecycle.preStop', (c: ContainerCtx) => c.ref.container.lifecycle?.preStop],
] as const;

// A probe or hook with a host makes the kubelet connect to an arbitrary address from the node:
// an SSRF into the node's network.
function hostProbesAndHostLifecycle(pod: PodView): Problem[] {
  const out: Problem[] = [];
  for (const c of containers(pod)) {
    for (const [field, get] of HANDLERS) {
      const h: Handler | undefined = get(c);
      for (const [kind, host] of [
        ['httpGet', h?.httpGetHost],
        ['tcpSocket', h?.tcpSocketHost],
      ] as const) {
        if (host)
          out.push({
            container: c.name,
            path: `${c.ref.path}.${field}.${kind}.host`,
            message: `container ${quote(c.name)} must not set ${field}.${kind}.host (${quote(host)})`,
          });
      }
    }
  }
  return out;
}

export const HOST_CHECKS: readonly PssCheck[] = [
  { id: 'privileged', level: 'baseline', versions: [{ since: 0, check: privileged }] },
  { id: 'hostNamespaces', level: 'baseline', versions: [{ since: 0, check: hostNamespaces }] },
  { id: 'hostPorts', level: 'baseline', versions: [{ since: 0, check: hostPorts }] },
  {
    id: 'windowsHostProcess',
    level: 'baseline',
    versions: [{ since: 0, check: windowsHostProcess }],
  },
  {
    id: 'hostProbesAndHostLifecycle',
    level: 'baseline',
    // Added in 1.34: older minors never looked at probe hosts.
    versions: [{ since: 34, check: hostProbesAndHostLifecycle }],
  },
];
