// The ContainerDeploymentPolicy as the operator and the CLI see it after parsing: every default
// applied, so consumers never re-implement defaulting. The CRD schema in crds/ must agree with
// these shapes; test/unit/api/crd-schema.test.ts keeps the two from drifting apart.
import type { ActionType, AdmissionAction, Mode, Severity, Weekday } from './constants.ts';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

export interface PolicyMatch {
  namespaces: string[];
  excludeNamespaces: string[];
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
}

export interface PolicyExclude {
  images: string[];
  serviceAccounts: string[];
  podSelector?: LabelSelector;
}

export type PssLevel = 'baseline' | 'restricted';

export interface PodSecurityRule {
  level: PssLevel;
  version: string;
  exemptChecks: string[];
}

export interface ImagesRule {
  allowedRegistries: string[];
  deniedImages: string[];
  requireDigest: boolean;
  disallowLatestTag: boolean;
}

export interface HostPathsRule {
  denySensitive: boolean;
  denied: string[];
}

export interface IndicatorsRule {
  enabled: boolean;
}

export interface CommandsRule {
  deniedPatterns: string[];
}

export interface SchedulingRule {
  denyNodeName: boolean;
  denyHostnameSelector: boolean;
  denyControlPlaneTolerations: boolean;
}

export interface OwnershipRule {
  denyBarePods: boolean;
}

export interface TimeWindow {
  days: Weekday[];
  start: string;
  end: string;
  timeZone: string;
}

export interface ScheduleRule {
  allowedWindows: TimeWindow[];
}

export interface PolicyRules {
  podSecurity?: PodSecurityRule;
  images?: ImagesRule;
  hostPaths?: HostPathsRule;
  indicators?: IndicatorsRule;
  commands?: CommandsRule;
  scheduling?: SchedulingRule;
  ownership?: OwnershipRule;
  schedule?: ScheduleRule;
}

interface ActionBase {
  type: ActionType;
  minSeverity?: Severity;
}
export interface LabelAction extends ActionBase {
  type: 'Label';
  labels: Record<string, string>;
}
export interface IsolateAction extends ActionBase {
  type: 'Isolate';
}
export interface DeletePodAction extends ActionBase {
  type: 'DeletePod';
  gracePeriodSeconds?: number;
  evict: boolean;
}
export interface CordonNodeAction extends ActionBase {
  type: 'CordonNode';
}
export type PolicyAction = LabelAction | IsolateAction | DeletePodAction | CordonNodeAction;

export interface PolicyGuards {
  maxActionsPerMinute: number;
  protectedNamespaces: string[];
  maxCordonedNodesPercent: number;
  ignoreOwnerKinds: string[];
}

/** What the admission webhook does about this policy's violations (Off: nothing). */
export interface PolicyAdmission {
  action: AdmissionAction;
  minSeverity?: Severity;
}

export interface PolicySpec {
  mode: Mode;
  match: PolicyMatch;
  exclude: PolicyExclude;
  rules: PolicyRules;
  severity: Record<string, Severity>;
  actions: PolicyAction[];
  guards: PolicyGuards;
  admission: PolicyAdmission;
}

export interface Policy {
  name: string;
  generation?: number;
  uid?: string;
  spec: PolicySpec;
}

/** One problem with a policy, with the JSON path of the field at fault (e.g. `spec.rules.commands.deniedPatterns[0]`). */
export interface PolicyProblem {
  path: string;
  message: string;
}
