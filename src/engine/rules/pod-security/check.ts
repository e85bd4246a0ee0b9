// The shape every Pod Security Standards check shares, and the small helpers the checks have in
// common. Each check mirrors one upstream `k8s.io/pod-security-admission` check: an ID, the level
// it belongs to, and the implementations it had over time, each valid from a Kubernetes minor on.
import type { PssLevel } from '../../../api/policy.ts';
import type { ContainerRef, PodView } from '../../pod.ts';
import { allContainers } from '../../pod.ts';
import type { Finding } from '../../violation.ts';

/** The part of a finding a check fills in; `rule` is added from the check ID. */
export type Problem = Omit<Finding, 'rule'>;

export type CheckFn = (pod: PodView) => Problem[];

export interface VersionedCheck {
  /** First Kubernetes 1.x minor this implementation applies to (until the next entry's). */
  since: number;
  check: CheckFn;
  /** Baseline check IDs this restricted check replaces at the restricted level. */
  overrides?: readonly string[];
}

export interface PssCheck {
  id: string;
  level: PssLevel;
  /** Sorted by `since`, strictly increasing. */
  versions: readonly VersionedCheck[];
}

/** The implementation of `check` in force at `minor`, if the check existed then. */
export function versionAt(check: PssCheck, minor: number): VersionedCheck | undefined {
  let found: VersionedCheck | undefined;
  for (const v of check.versions) if (v.since <= minor) found = v;
  return found;
}

/**
 * What a check returns when it finds nothing, which is nearly always: one shared, frozen array, so a
 * clean pod costs the nineteen checks no allocation. Callers only read check results.
 */
export const NONE: Problem[] = Object.freeze([]) as unknown as Problem[];

/** A container with its securityContext, for checks that walk every container. */
export type ContainerCtx = ContainerRef;

/** The pod's containers, shared by all nineteen checks (and the other rule families). */
export function containers(pod: PodView): readonly ContainerCtx[] {
  return allContainers(pod.spec);
}

/** A problem about one container: the message names it so it reads well on its own. */
export function containerProblem(c: ContainerCtx, field: string, message: string): Problem {
  return {
    container: c.name,
    path: `${c.scPath}.${field}`,
    message: `container ${quote(c.name)} ${message}`,
  };
}

/** Upstream relaxes some checks for pods in a user namespace (hostUsers: false) from 1.35 on. */
export function inUserNamespace(pod: PodView): boolean {
  return pod.spec.hostUsers === false;
}

/** Upstream exempts Windows pods from Linux-only restricted checks from 1.25 on. */
export function isWindowsPod(pod: PodView): boolean {
  return pod.spec.os?.name === 'windows';
}

/** Quotes a value for a message; bounded so an attacker's megabyte string can't bloat reports. */
export function quote(v: string | undefined): string {
  const s = v ?? '';
  return JSON.stringify(s.length > 256 ? `${s.slice(0, 256)}…` : s);
}
