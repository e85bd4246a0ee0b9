// Baseline checks on the Linux security modules: AppArmor (field and the deprecated annotation) and
// SELinux options. Both may be set on the pod and on each container; every setter is judged.
import type { AppArmorProfile, PodView, SELinuxOptions } from '../../pod.ts';
import type { Problem, PssCheck } from './check.ts';
import { NONE, containerProblem, containers, quote } from './check.ts';
import { APPARMOR_ANNOTATION_PREFIX } from './annotation-keys.ts';

const APPARMOR_TYPES = new Set(['RuntimeDefault', 'Localhost']);

function appArmorAnnotationAllowed(v: string): boolean {
  return v === '' || v === 'runtime/default' || v.startsWith('localhost/');
}

// A profile object that is present but has no type is as bad as Unconfined: upstream reads the
// empty type as "not one of the allowed ones".
function badAppArmor(p: AppArmorProfile | undefined): boolean {
  return p !== undefined && !APPARMOR_TYPES.has(p.type ?? '');
}

// Every minor checks both the field and the annotation: the annotation still took effect on
// older kubelets, so upstream never stopped looking at it.
const appArmorMessage = (t: string | undefined) =>
  `must not set AppArmor profile type ${quote(t)} (allowed: RuntimeDefault, Localhost)`;

function appArmorProfile(pod: PodView): Problem[] {
  let out: Problem[] | undefined;
  const podProfile = pod.spec.securityContext?.appArmorProfile;
  if (badAppArmor(podProfile))
    (out ??= []).push({
      path: 'spec.securityContext.appArmorProfile.type',
      message: `pod ${appArmorMessage(podProfile?.type)}`,
    });
  for (const c of containers(pod)) {
    if (badAppArmor(c.sc?.appArmorProfile))
      (out ??= []).push(
        containerProblem(c, 'appArmorProfile.type', appArmorMessage(c.sc?.appArmorProfile?.type)),
      );
  }
  const annotations = pod.metadata.annotations;
  // for-in with an own-property test visits what Object.entries would, in the same order, without
  // building the pairs.
  for (const key in annotations) {
    if (!Object.hasOwn(annotations, key) || !key.startsWith(APPARMOR_ANNOTATION_PREFIX)) continue;
    const value = annotations[key] as string;
    if (appArmorAnnotationAllowed(value)) continue;
    (out ??= []).push({
      container: key.slice(APPARMOR_ANNOTATION_PREFIX.length),
      path: `metadata.annotations[${key}]`,
      message: `annotation ${quote(key)} must not set AppArmor profile ${quote(value)} (allowed: runtime/default, localhost/*)`,
    });
  }
  return out ?? NONE;
}

const SELINUX_TYPES_1_0 = ['', 'container_t', 'container_init_t', 'container_kvm_t'];
const SELINUX_TYPES_1_31 = [...SELINUX_TYPES_1_0, 'container_engine_t'];

const NO_SELINUX_PROBLEMS: readonly { field: string; message: string }[] = Object.freeze([]);

function seLinuxProblems(
  opts: SELinuxOptions | undefined,
  allowedTypes: ReadonlySet<string>,
): readonly { field: string; message: string }[] {
  if (!opts) return NO_SELINUX_PROBLEMS;
  const out: { field: string; message: string }[] = [];
  const type = opts.type ?? '';
  if (!allowedTypes.has(type))
    out.push({
      field: 'seLinuxOptions.type',
      message: `must not set securityContext.seLinuxOptions.type to ${quote(type)}`,
    });
  if (opts.user)
    out.push({
      field: 'seLinuxOptions.user',
      message: 'must not set securityContext.seLinuxOptions.user',
    });
  if (opts.role)
    out.push({
      field: 'seLinuxOptions.role',
      message: 'must not set securityContext.seLinuxOptions.role',
    });
  return out;
}

function seLinuxOptions(allowed: readonly string[]) {
  const allowedTypes = new Set(allowed);
  return (pod: PodView): Problem[] => {
    let out: Problem[] | undefined;
    for (const p of seLinuxProblems(pod.spec.securityContext?.seLinuxOptions, allowedTypes))
      (out ??= []).push({ path: `spec.securityContext.${p.field}`, message: `pod ${p.message}` });
    for (const c of containers(pod)) {
      if (c.sc?.seLinuxOptions === undefined) continue;
      for (const p of seLinuxProblems(c.sc.seLinuxOptions, allowedTypes))
        (out ??= []).push(containerProblem(c, p.field, p.message));
    }
    return out ?? NONE;
  };
}

export const PROFILE_CHECKS: readonly PssCheck[] = [
  { id: 'appArmorProfile', level: 'baseline', versions: [{ since: 0, check: appArmorProfile }] },
  {
    id: 'seLinuxOptions',
    level: 'baseline',
    versions: [
      { since: 0, check: seLinuxOptions(SELINUX_TYPES_1_0) },
      // 1.31 added container_engine_t (for container engines running inside pods).
      { since: 31, check: seLinuxOptions(SELINUX_TYPES_1_31) },
    ],
  },
];
