// One small interface for every remediation action: what it needs from RBAC, and how it brings a
// target to the state the action asks for. Actions are idempotent: run against a target already in
// that state they report `noop` and write nothing, so a replay or a restart never acts twice.
// Whether an action may run at all (rate limit, protected namespaces, dry run...) is decided by the
// guards, in one place, before execute is called.
import type { PolicyAction } from '../api/policy.ts';
import type { PodView } from '../engine/pod.ts';
import type { Violation } from '../engine/violation.ts';
import type { KubeApi } from '../kube/api.ts';
import type { EventSpec } from '../report/events.ts';

/** One RBAC rule an action needs; config/rbac/role.yaml must grant the union (a unit test checks). */
export interface Permission {
  group: string;
  resource: string;
  verbs: readonly string[];
}

/** The node a pod runs on, trimmed to what cordoning and its guards read. */
export interface NodeInfo {
  name: string;
  uid: string;
  unschedulable: boolean;
  controlPlane: boolean;
  labels: Record<string, string>;
}

/** The cached NetworkPolicy named for the pod's isolation (whoever wrote it: check its spec). */
export interface IsolationPolicy {
  spec: unknown;
}

export interface ActionTarget {
  pod: PodView;
  /** The pod's node, when it is bound to one the cache knows. */
  node?: NodeInfo;
  /** The NetworkPolicy of the Isolate action's name for this pod, when the cache has one. */
  isolation?: IsolationPolicy;
}

export interface ActionContext {
  api: KubeApi;
  policy: string;
  because: readonly Violation[];
  now: Date;
}

export type ActionOutcome =
  /** The action changed something; resourceVersion: of the pod after our write, when it was one. */
  | { kind: 'success'; event: EventSpec; resourceVersion?: string }
  /** The action can't do anything for this target (a NetworkPolicy can't isolate a hostNetwork pod). */
  | { kind: 'skipped'; why: string }
  /** The target was already in the state the action asks for (or gone). */
  | { kind: 'noop'; why: string }
  /** The cluster refused for a reason that is not ours to override (a PodDisruptionBudget). */
  | { kind: 'refused'; why: string; retryAfterMs: number };

export interface RemediationAction<A extends PolicyAction = PolicyAction> {
  readonly type: A['type'];
  readonly permissions: readonly Permission[];
  execute(ctx: ActionContext, target: ActionTarget, action: A): Promise<ActionOutcome>;
  /**
   * Whether the cache already shows the target as the action would leave it. Checked before the
   * guards, so re-checking an action that is in effect never spends the rate limit or reports a
   * skip. (execute checks the cluster again; this is only the cheap first look.)
   */
  inEffect(target: ActionTarget, action: A): boolean;
}

/** `pss.privileged, indicator.reverseShell` for messages. */
export function ruleList(because: readonly Violation[]): string {
  return [...new Set(because.map((v) => v.rule))].join(', ');
}
