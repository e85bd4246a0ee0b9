// The only annotations any rule reads: the pre-1.19 seccomp and the deprecated AppArmor keys. The
// operator's pod cache keeps these and drops the rest, so what a tenant writes into other
// annotations costs it nothing (cached-pod.ts); a new rule that reads an annotation must add its
// key here, or the operator would judge pods without it.
export const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
export const SECCOMP_CONTAINER_ANNOTATION_PREFIX =
  'container.seccomp.security.alpha.kubernetes.io/';
export const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

/** Does any rule read this annotation? */
export function readByRules(key: string): boolean {
  return (
    key === SECCOMP_POD_ANNOTATION ||
    key.startsWith(SECCOMP_CONTAINER_ANNOTATION_PREFIX) ||
    key.startsWith(APPARMOR_ANNOTATION_PREFIX)
  );
}
