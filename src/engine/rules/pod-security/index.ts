// The Pod Security Standards rule family: Kubernetes' own pod-security-admission checks, at a level
// and a Kubernetes minor, as deployguard findings (`pss.<checkID>`). Pure: no I/O, no clock.
import type { PodSecurityRule, PolicyProblem, PssLevel } from '../../../api/policy.ts';
import { allContainers, type PodView } from '../../pod.ts';
import type { Finding } from '../../violation.ts';
import type { RuleFamily } from '../rule-family.ts';
import { CAPABILITY_CHECKS } from './capabilities.ts';
import type { Problem, PssCheck, VersionedCheck } from './check.ts';
import { versionAt } from './check.ts';
import { HOST_CHECKS } from './host.ts';
import { KERNEL_CHECKS } from './kernel.ts';
import { gateOf, podFlags, skippable, type PssGate } from './prefilter.ts';
import { PROFILE_CHECKS } from './profiles.ts';
import { SECCOMP_CHECKS } from './seccomp.ts';
import { USER_CHECKS } from './users.ts';
import { LATEST_PSS_MINOR, parsePssVersion } from './version.ts';
import { VOLUME_CHECKS } from './volumes.ts';

export { LATEST_PSS_MINOR, OLDEST_PSS_MINOR, parsePssVersion } from './version.ts';

/** The upstream check IDs, exactly as k8s.io/pod-security-admission names them: baseline, then restricted. */
export const PSS_CHECK_IDS: readonly string[] = [
  'privileged',
  'hostNamespaces',
  'hostPathVolumes',
  'hostPorts',
  'appArmorProfile',
  'seLinuxOptions',
  'procMount',
  'seccompProfile_baseline',
  'sysctls',
  'windowsHostProcess',
  'capabilities_baseline',
  'hostProbesAndHostLifecycle',
  'restrictedVolumes',
  'allowPrivilegeEscalation',
  'runAsNonRoot',
  'runAsUser',
  'seccompProfile_restricted',
  'capabilities_restricted',
  'procMount_restricted',
];

const BY_ID = new Map<string, PssCheck>(
  [
    HOST_CHECKS,
    VOLUME_CHECKS,
    PROFILE_CHECKS,
    SECCOMP_CHECKS,
    KERNEL_CHECKS,
    CAPABILITY_CHECKS,
    USER_CHECKS,
  ]
    .flat()
    .map((c) => [c.id, c]),
);
/** The level an upstream check belongs to (restricted-only checks say 'restricted'). */
export function pssCheckLevel(id: string): PssLevel | undefined {
  return BY_ID.get(id)?.level;
}

const CHECKS: readonly PssCheck[] = PSS_CHECK_IDS.map((id) => {
  const c = BY_ID.get(id);
  if (!c) throw new Error(`pod-security: no implementation registered for check ${id}`);
  return c;
});

export interface ActivePssCheck {
  id: string;
  /** Baseline checks this one replaces at this level and minor. */
  overrides: readonly string[];
}

/**
 * The checks that run at a level and minor, after restricted checks have replaced the baseline
 * checks they override. An exempted check neither runs nor overrides: exempting
 * `restrictedVolumes` still leaves hostPath volumes forbidden by `hostPathVolumes`.
 */
export function activePssChecks(
  level: PssLevel,
  minor: number,
  exempt: ReadonlySet<string> = new Set(),
): ActivePssCheck[] {
  const candidates: ActivePssCheck[] = [];
  for (const check of CHECKS) {
    if (check.level === 'restricted' && level !== 'restricted') continue;
    if (exempt.has(check.id)) continue;
    const v = versionAt(check, minor);
    if (v) candidates.push({ id: check.id, overrides: v.overrides ?? [] });
  }
  const overridden = new Set(candidates.flatMap((c) => c.overrides));
  return candidates.filter((c) => !overridden.has(c.id));
}

export interface PreparedCheck {
  id: string;
  rule: string;
  impl: VersionedCheck;
  /** When the check can be skipped (see prefilter.ts); undefined: it always runs. */
  gate: PssGate | undefined;
}

// A handful of (level, version, exemptions) combinations exist across all policies: resolve each
// once, not per pod.
const prepared = new Map<string, readonly PreparedCheck[]>();

/** The checks a rule runs, resolved; compiled policies hold the result so evaluation skips this. */
export function preparePodSecurity(rule: PodSecurityRule): readonly PreparedCheck[] {
  const exemptList = Array.isArray(rule.exemptChecks) ? rule.exemptChecks : [];
  const key = `${rule.level}|${rule.version}|${[...exemptList].sort().join(',')}`;
  let checks = prepared.get(key);
  if (checks) return checks;
  const parsed = parsePssVersion(rule.version);
  const minor = 'minor' in parsed ? parsed.minor : LATEST_PSS_MINOR;
  const level: PssLevel = rule.level === 'restricted' ? 'restricted' : 'baseline';
  checks = activePssChecks(level, minor, new Set(exemptList)).flatMap(({ id }) => {
    const impl = versionAt(BY_ID.get(id) as PssCheck, minor);
    return impl ? [{ id, rule: `pss.${id}`, impl, gate: gateOf(id) }] : [];
  });
  if (prepared.size < 1024) prepared.set(key, checks);
  return checks;
}

/**
 * The findings of the Pod Security Standards at `rule.level` (restricted includes baseline) with
 * the semantics of Kubernetes `rule.version`, skipping `rule.exemptChecks`. Never throws: a version
 * the policy parser should have refused falls back to the newest minor (as upstream's own parser
 * does), and a check that fails on an odd pod reports a finding instead of passing it.
 */
export function checkPodSecurity(pod: PodView, rule: PodSecurityRule): Finding[] {
  const findings: Finding[] = [];
  podSecurityInto(pod, preparePodSecurity(rule), findings);
  return findings;
}

/** checkPodSecurity with the checks already resolved, appending to `out`. */
export function podSecurityInto(
  pod: PodView,
  checks: readonly PreparedCheck[],
  out: Finding[],
  prefilter = true,
): void {
  // -1: every check runs (asked for, or the pod is too odd even to read its flags).
  let flags = -1;
  if (prefilter) {
    try {
      flags = podFlags(allContainers(pod.spec));
    } catch {
      flags = -1;
    }
  }
  for (let i = 0; i < checks.length; i++) {
    const { id, rule: ruleId, impl, gate } = checks[i] as PreparedCheck;
    if (flags !== -1 && gate !== undefined && skippable(gate, flags, pod)) continue;
    let problems: Problem[];
    try {
      problems = impl.check(pod);
    } catch {
      // Fail closed: an attacker must not be able to craft a pod that skips a check.
      out.push({
        rule: `pss.${id}`,
        path: 'spec',
        message: `the ${id} check could not read this pod; it is treated as failing`,
      });
      continue;
    }
    for (const p of problems) out.push({ rule: ruleId, ...p });
  }
}

/** Problems of a podSecurity block the schema can't see: the version and the check IDs. */
function podSecurityProblems(pss: PodSecurityRule, problems: PolicyProblem[]): void {
  const v = parsePssVersion(pss.version);
  if ('error' in v) problems.push({ path: 'spec.rules.podSecurity.version', message: v.error });
  pss.exemptChecks.forEach((id, i) => {
    if (!PSS_CHECK_IDS.includes(id)) {
      problems.push({
        path: `spec.rules.podSecurity.exemptChecks[${i}]`,
        message: `unknown Pod Security Standards check ID "${id}"; known: ${PSS_CHECK_IDS.join(', ')}`,
      });
    }
  });
}

const listIds = new WeakMap<readonly PreparedCheck[], string>();

/** One key per prepared list: the same checks at another version are another list. */
function listId(checks: readonly PreparedCheck[]): string {
  let id = listIds.get(checks);
  if (id === undefined) listIds.set(checks, (id = String(nextListId++)));
  return id;
}
let nextListId = 0;

/** spec.rules.podSecurity: the upstream checks as pss.<checkID>. */
export const podSecurityRules: RuleFamily<readonly PreparedCheck[]> = {
  block: 'podSecurity',
  compile: (spec, problems) => {
    const pss = spec.rules.podSecurity;
    if (!pss) return undefined;
    podSecurityProblems(pss, problems);
    return preparePodSecurity(pss);
  },
  judge: (pod, checks, _ctx, out) => podSecurityInto(pod, checks, out),
  // preparePodSecurity hands equal settings (level, version, exemptions) the same list.
  sharedKey: (checks) => listId(checks),
};
