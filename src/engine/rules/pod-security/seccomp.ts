// Seccomp: baseline forbids turning the profile off (through the alpha annotations before 1.19, the
// securityContext field from 1.19); restricted also requires a profile on every container.
import type { PodView, SeccompProfile } from '../../pod.ts';
import type { Problem, PssCheck } from './check.ts';
import { SECCOMP_CONTAINER_ANNOTATION_PREFIX, SECCOMP_POD_ANNOTATION } from './annotation-keys.ts';
import { NONE, containerProblem, containers, isWindowsPod, quote } from './check.ts';

const SECCOMP_TYPES = new Set(['RuntimeDefault', 'Localhost']);

function annotationAllowed(v: string): boolean {
  return v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/');
}

// Before 1.19 the annotations were the only way to set seccomp. An annotation that is present but
// empty is not allowed; container annotations count only for containers the pod has.
function seccompBaselineAnnotations(pod: PodView): Problem[] {
  const out: Problem[] = [];
  const annotations = pod.metadata.annotations;
  const check = (key: string, container?: string) => {
    if (!Object.hasOwn(annotations, key)) return;
    const value = annotations[key] ?? '';
    if (annotationAllowed(value)) return;
    out.push({
      ...(container === undefined ? {} : { container }),
      path: `metadata.annotations[${key}]`,
      message: `annotation ${quote(key)} must not set seccomp profile ${quote(value)} (allowed: runtime/default, docker/default, localhost/*)`,
    });
  };
  check(SECCOMP_POD_ANNOTATION);
  const seen = new Set<string>();
  for (const c of containers(pod)) {
    if (seen.has(c.name)) continue;
    seen.add(c.name);
    check(SECCOMP_CONTAINER_ANNOTATION_PREFIX + c.name, c.name);
  }
  return out;
}

function badSeccomp(p: SeccompProfile | undefined): boolean {
  return p !== undefined && !SECCOMP_TYPES.has(p.type ?? '');
}

const explicitMessage = (t: string | undefined) =>
  `must not set securityContext.seccompProfile.type to ${quote(t)} (allowed: RuntimeDefault, Localhost)`;

/** Pod and containers that set a forbidden type (Unconfined, or a profile without a type). */
function explicitlyBadInto(pod: PodView, out: Problem[] | undefined): Problem[] | undefined {
  const podProfile = pod.spec.securityContext?.seccompProfile;
  if (badSeccomp(podProfile))
    (out ??= []).push({
      path: 'spec.securityContext.seccompProfile.type',
      message: `pod ${explicitMessage(podProfile?.type)}`,
    });
  for (const c of containers(pod)) {
    if (badSeccomp(c.sc?.seccompProfile))
      (out ??= []).push(
        containerProblem(c, 'seccompProfile.type', explicitMessage(c.sc?.seccompProfile?.type)),
      );
  }
  return out;
}

function explicitlyBad(pod: PodView): Problem[] {
  return explicitlyBadInto(pod, undefined) ?? NONE;
}

// Restricted: a container without its own profile inherits the pod's, which must then be a good one.
function seccompRestricted(pod: PodView): Problem[] {
  let out = explicitlyBadInto(pod, undefined);
  const podProfile = pod.spec.securityContext?.seccompProfile;
  const podCovers = podProfile !== undefined && !badSeccomp(podProfile);
  if (podCovers) return out ?? NONE;
  for (const c of containers(pod)) {
    if (c.sc?.seccompProfile === undefined)
      (out ??= []).push(
        containerProblem(
          c,
          'seccompProfile.type',
          'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost" (or the pod must)',
        ),
      );
  }
  return out ?? NONE;
}

// Windows has no seccomp, and the API server refuses the field on Windows pods.
function seccompRestrictedNotWindows(pod: PodView): Problem[] {
  return isWindowsPod(pod) ? NONE : seccompRestricted(pod);
}

export const SECCOMP_CHECKS: readonly PssCheck[] = [
  {
    id: 'seccompProfile_baseline',
    level: 'baseline',
    versions: [
      { since: 0, check: seccompBaselineAnnotations },
      { since: 19, check: explicitlyBad },
    ],
  },
  {
    id: 'seccompProfile_restricted',
    level: 'restricted',
    versions: [
      { since: 19, check: seccompRestricted, overrides: ['seccompProfile_baseline'] },
      { since: 25, check: seccompRestrictedNotWindows, overrides: ['seccompProfile_baseline'] },
    ],
  },
];
