// The catalog of rules: the families evaluate() runs, in order, and the stable rule IDs
// (docs/api.md section 2) with their default severity and ATT&CK techniques. A policy's `severity`
// map may override the severity; the techniques are fixed.
import type { Severity } from '../api/constants.ts';
import type { PolicyProblem, PolicySpec } from '../api/policy.ts';
import { commandRules } from './rules/commands.ts';
import { hostPathRules } from './rules/host-paths.ts';
import { imageRules } from './rules/images.ts';
import { indicatorRules } from './rules/indicators.ts';
import { ownershipRules } from './rules/ownership.ts';
import { podSecurityRules, pssCheckLevel } from './rules/pod-security/index.ts';
import { bindFamily, type CompiledRule, type RuleFamily } from './rules/rule-family.ts';
import { scheduleRules } from './rules/schedule-window.ts';
import { schedulingRules } from './rules/scheduling.ts';

/** A family of any compiled type: it binds its compiled settings for one policy. */
export interface CatalogEntry {
  block: string;
  compile(spec: PolicySpec, problems: PolicyProblem[]): CompiledRule | undefined;
}

const entry = <C>(f: RuleFamily<C>): CatalogEntry => ({
  block: f.block,
  compile: (spec, problems) => bindFamily(f, spec, problems),
});

/** Every rule family, in the order their findings are produced. */
export const RULE_FAMILIES: readonly CatalogEntry[] = [
  entry(podSecurityRules),
  entry(imageRules),
  entry(hostPathRules),
  entry(indicatorRules),
  entry(commandRules),
  entry(schedulingRules),
  entry(ownershipRules),
  entry(scheduleRules),
];

export interface RuleInfo {
  severity: Severity;
  techniques: readonly string[];
  /** One line for docs and `kubectl explain`-style help. */
  summary: string;
  /** What to change so the rule passes, as an imperative clause: the fix admission messages name. */
  remedy: string;
}

const DEPLOY = 'T1610';
const ESCAPE = 'T1611';

/** PSS checks that give a container the host: they map to Escape to Host as well. */
const HOST_ACCESS_CHECKS = new Set([
  'privileged',
  'hostNamespaces',
  'hostPathVolumes',
  'hostPorts',
  'capabilities_baseline',
  'procMount',
  'windowsHostProcess',
  'hostProbesAndHostLifecycle',
  'sysctls',
]);
const CRITICAL_CHECKS = new Set(['privileged', 'hostNamespaces']);

const FIXED: Readonly<Record<string, RuleInfo>> = {
  'input.oversized': {
    severity: 'high',
    techniques: [DEPLOY, 'T1027'],
    summary: 'a field beyond the engine bounds (padding that could hide a payload)',
    remedy: "shorten the field to the engine's bounds",
  },
  'image.registry': {
    severity: 'medium',
    techniques: [DEPLOY, 'T1204.003'],
    summary: 'image outside allowedRegistries',
    remedy: 'pull the image from one of rules.images.allowedRegistries',
  },
  'image.denied': {
    severity: 'high',
    techniques: [DEPLOY, 'T1204.003'],
    summary: 'image matches deniedImages',
    remedy: 'use an image that rules.images.deniedImages does not match',
  },
  'image.latestTag': {
    severity: 'low',
    techniques: [DEPLOY],
    summary: 'image tag missing or latest',
    remedy: 'pin the image to a version tag or a digest',
  },
  'image.digest': {
    severity: 'low',
    techniques: [DEPLOY],
    summary: 'image not pinned by digest',
    remedy: 'pin the image by digest (image@sha256:…)',
  },
  'hostPath.sensitive': {
    severity: 'critical',
    techniques: [ESCAPE],
    summary: 'hostPath volume at or under a sensitive path',
    remedy: "use a PersistentVolumeClaim, emptyDir or configMap instead of the host's path",
  },
  'indicator.reverseShell': {
    severity: 'critical',
    techniques: ['T1059'],
    summary: 'reverse-shell idiom in command/args',
    remedy: 'remove the reverse shell from command and args',
  },
  'indicator.downloadExec': {
    severity: 'high',
    techniques: ['T1105'],
    summary: 'download piped or chained into an interpreter',
    remedy: 'build what is downloaded into the image instead of fetching and running it at start',
  },
  'indicator.miner': {
    severity: 'high',
    techniques: ['T1496'],
    summary: 'crypto-miner image or arguments',
    remedy: 'remove the miner',
  },
  'indicator.procFdWorkingDir': {
    severity: 'critical',
    techniques: [ESCAPE],
    summary: 'workingDir under /proc/self/fd (CVE-2024-21626)',
    remedy: 'set workingDir to a path inside the image',
  },
  'command.denied': {
    severity: 'high',
    techniques: [DEPLOY],
    summary: 'command matches a deniedPatterns regex',
    remedy: 'change the command so that no rules.commands.deniedPatterns regex matches it',
  },
  'scheduling.nodeName': {
    severity: 'medium',
    techniques: [DEPLOY],
    summary: 'spec.nodeName set by the creator',
    remedy: 'leave spec.nodeName to the scheduler; use affinity to prefer nodes',
  },
  'scheduling.hostnameSelector': {
    severity: 'medium',
    techniques: [DEPLOY],
    summary: 'pinned to one node by hostname',
    remedy: 'select nodes by a role label, not by kubernetes.io/hostname',
  },
  'scheduling.controlPlaneToleration': {
    severity: 'medium',
    techniques: [DEPLOY],
    summary: 'tolerates control-plane taints',
    remedy: 'remove the toleration of control-plane taints',
  },
  'ownership.barePod': {
    severity: 'medium',
    techniques: [DEPLOY],
    summary: 'no controller ownerReference',
    remedy: 'create the pod through a Deployment, Job or another workload',
  },
  'schedule.window': {
    severity: 'medium',
    techniques: [DEPLOY],
    summary: 'created outside every allowed window',
    remedy: 'deploy inside one of rules.schedule.allowedWindows',
  },
};

/** Catalog entry of a rule ID, or undefined for an ID deployguard does not have. */
export function ruleInfo(id: string): RuleInfo | undefined {
  if (Object.hasOwn(FIXED, id)) return FIXED[id];
  if (!id.startsWith('pss.')) return undefined;
  const check = id.slice(4);
  return {
    severity: CRITICAL_CHECKS.has(check)
      ? 'critical'
      : pssCheckLevel(check) === 'restricted'
        ? 'medium'
        : 'high',
    techniques: HOST_ACCESS_CHECKS.has(check) ? [DEPLOY, ESCAPE] : [DEPLOY],
    summary: `Pod Security Standards check ${check} fails`,
    remedy: `set the field as the Pod Security Standards ${pssCheckLevel(check) ?? 'baseline'} profile requires (check ${check})`,
  };
}
