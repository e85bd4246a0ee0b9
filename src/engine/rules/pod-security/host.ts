// Baseline checks that keep a pod off the host's own resources: privileged mode, host namespaces,
// host ports, Windows HostProcess and probe/lifecycle handlers aimed at other hosts.
import type { ContainerPort, Handler, PodView } from '../../pod.ts';
import type { ContainerCtx, Problem, PssCheck } from './check.ts';
import { NONE, containerProblem, containers, quote } from './check.ts';

function privileged(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    if (c.sc?.privileged === true)
      (out ??= []).push(
        containerProblem(c, 'privileged', 'must not set securityContext.privileged=true'),
      );
  }
  return out ?? NONE;
}

const HOST_NAMESPACES = ['hostNetwork', 'hostPID', 'hostIPC'] as const;

function hostNamespaces(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const field of HOST_NAMESPACES) {
    if (pod.spec[field] === true)
      (out ??= []).push({
        path: `spec.${field}`,
        message: `pod must not share the host namespace: ${field}=true`,
      });
  }
  return out ?? NONE;
}

function hostPorts(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    const ports = c.container.ports;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i] as ContainerPort;
      // 0 and unset both mean "no host port".
      if (p.hostPort !== undefined && p.hostPort !== 0)
        (out ??= []).push({
          container: c.name,
          path: `${c.path}.ports[${i}].hostPort`,
          message: `container ${quote(c.name)} must not use hostPort ${p.hostPort}`,
        });
    }
  }
  return out ?? NONE;
}

function windowsHostProcess(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  const message = 'must not set securityContext.windowsOptions.hostProcess=true';
  if (pod.spec.securityContext?.windowsOptions?.hostProcess === true)
    (out ??= []).push({
      path: 'spec.securityContext.windowsOptions.hostProcess',
      message: `pod ${message}`,
    });
  for (const c of containers(pod)) {
    if (c.sc?.windowsOptions?.hostProcess === true)
      (out ??= []).push(containerProblem(c, 'windowsOptions.hostProcess', message));
  }
  return out ?? NONE;
}

function handlerHosts(
  c: ContainerCtx,
  field: string,
  h: Handler | undefined,
  out: Problem[] | undefined,
): Problem[] | undefined {
  if (h === undefined) return out;
  if (h.httpGetHost) out = hostProblem(c, field, 'httpGet', h.httpGetHost, out);
  if (h.tcpSocketHost) out = hostProblem(c, field, 'tcpSocket', h.tcpSocketHost, out);
  return out;
}

function hostProblem(
  c: ContainerCtx,
  field: string,
  kind: string,
  host: string,
  out: Problem[] | undefined,
): Problem[] {
  (out ??= []).push({
    container: c.name,
    path: `${c.path}.${field}.${kind}.host`,
    message: `container ${quote(c.name)} must not set ${field}.${kind}.host (${quote(host)})`,
  });
  return out;
}

// A probe or hook with a host makes the kubelet connect to an arbitrary address from the node:
// an SSRF into the node's network.
function hostProbesAndHostLifecycle(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    const k = c.container;
    out = handlerHosts(c, 'livenessProbe', k.livenessProbe, out);
    out = handlerHosts(c, 'readinessProbe', k.readinessProbe, out);
    out = handlerHosts(c, 'startupProbe', k.startupProbe, out);
    out = handlerHosts(c, 'lifecycle.postStart', k.lifecycle?.postStart, out);
    out = handlerHosts(c, 'lifecycle.preStop', k.lifecycle?.preStop, out);
  }
  return out ?? NONE;
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
