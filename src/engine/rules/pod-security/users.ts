// Restricted checks on who the container runs as: not root, and unable to gain privileges.
import type { PodView } from '../../pod.ts';
import type { Problem, PssCheck } from './check.ts';
import { NONE, containerProblem, containers, inUserNamespace, isWindowsPod } from './check.ts';

// Unset means the runtime's default (true), so only an explicit false passes.
function allowPrivilegeEscalation(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  for (const c of containers(pod)) {
    if (c.sc?.allowPrivilegeEscalation !== false)
      (out ??= []).push(
        containerProblem(
          c,
          'allowPrivilegeEscalation',
          'must set securityContext.allowPrivilegeEscalation=false',
        ),
      );
  }
  return out ?? NONE;
}

// The API server refuses the field on Windows pods, where it means nothing.
function allowPrivilegeEscalationNotWindows(pod: PodView): Problem[] {
  return isWindowsPod(pod) ? NONE : allowPrivilegeEscalation(pod);
}

// A container's own setting wins; without one it inherits the pod's, which must then be true.
function runAsNonRoot(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  const podValue = pod.spec.securityContext?.runAsNonRoot;
  if (podValue === false)
    (out ??= []).push({
      path: 'spec.securityContext.runAsNonRoot',
      message: 'pod must not set securityContext.runAsNonRoot=false',
    });
  for (const c of containers(pod)) {
    const own = c.sc?.runAsNonRoot;
    if (own === false)
      (out ??= []).push(
        containerProblem(c, 'runAsNonRoot', 'must not set securityContext.runAsNonRoot=false'),
      );
    else if (own === undefined && podValue !== true)
      (out ??= []).push(
        containerProblem(
          c,
          'runAsNonRoot',
          'must set securityContext.runAsNonRoot=true (or the pod must)',
        ),
      );
  }
  return out ?? NONE;
}

// Root inside a user namespace maps to an unprivileged user on the node.
function runAsNonRoot135(pod: PodView): Problem[] {
  return inUserNamespace(pod) ? NONE : runAsNonRoot(pod);
}

function runAsUser(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  if (pod.spec.securityContext?.runAsUser === 0)
    (out ??= []).push({
      path: 'spec.securityContext.runAsUser',
      message: 'pod must not set runAsUser=0',
    });
  for (const c of containers(pod)) {
    if (c.sc?.runAsUser === 0)
      (out ??= []).push(containerProblem(c, 'runAsUser', 'must not set runAsUser=0'));
  }
  return out ?? NONE;
}

function runAsUser135(pod: PodView): Problem[] {
  return inUserNamespace(pod) ? NONE : runAsUser(pod);
}

export const USER_CHECKS: readonly PssCheck[] = [
  {
    id: 'allowPrivilegeEscalation',
    level: 'restricted',
    // The field exists from 1.8; Windows pods are exempt from 1.25 (when spec.os appeared).
    versions: [
      { since: 8, check: allowPrivilegeEscalation },
      { since: 25, check: allowPrivilegeEscalationNotWindows },
    ],
  },
  {
    id: 'runAsNonRoot',
    level: 'restricted',
    versions: [
      { since: 0, check: runAsNonRoot },
      { since: 35, check: runAsNonRoot135 },
    ],
  },
  {
    id: 'runAsUser',
    level: 'restricted',
    versions: [
      { since: 23, check: runAsUser },
      { since: 35, check: runAsUser135 },
    ],
  },
];
