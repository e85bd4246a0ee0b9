// Every guard in one place, in front of every action: a remediation that makes an incident worse
// (deleting the kube-system DNS pods, cordoning half the cluster, a delete loop against a
// Deployment's template) is worse than none. The remediator asks before each action; the answer
// is a refusal (skipped / dry_run / wait, and why) or a ticket. The ticket holds what letting the
// action through reserved (a rate-limit slot, a cordon under the cap) and is settled once the
// action has run: commit when it changed something, rollback when it changed nothing or failed.
//
// Order matters: the guards that describe the target (protected namespace, owner kind, control
// plane, cordon cap, loop) come first, so a dry run reports what would really have happened; the
// rate limit comes last and counts only actions that would run.
import type { ActionType } from '../api/constants.ts';
import { anyGlob } from '../engine/glob.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { PlannedAction } from '../engine/plan.ts';
import type { OwnerReference, PodView } from '../engine/pod.ts';
import { creatorChoseNode } from '../engine/rules/scheduling.ts';
import type { Glob } from '../engine/glob.ts';
import type { NodeInfo } from './action.ts';
import { CordonReservations } from './cordon-cap.ts';
import { LoopGuard } from './loop-guard.ts';
import { RateLimit } from './rate-limit.ts';

export type GuardName =
  | 'dryRun'
  | 'protectedNamespace'
  | 'ignoreOwnerKind'
  | 'unboundPod'
  | 'podNotRunning'
  | 'controlPlaneNode'
  | 'cordonCap'
  | 'loop'
  | 'nodeNamePinned'
  | 'breaker';

/** What letting an action through reserved; settle it exactly once. */
export interface Ticket {
  /** The action changed something: the slot stays spent, and a deletion counts toward the loop guard. */
  commit(): void;
  /** The action changed nothing or failed: the slot and any cordon reservation are free again. */
  rollback(): void;
}

export type Refusal = {
  run: false;
  /** wait: not yet (nothing is reported; the pod's next change brings it back). */
  outcome: 'skipped' | 'dry_run' | 'wait';
  guard: GuardName;
  reason: string;
  /** For `loop`: the owner that keeps recreating the pod. */
  owner?: OwnerReference;
  /** For `breaker`: when to look again. */
  retryAfterMs?: number;
  /** For `breaker`: the namespace whose own breaker is open (absent: the policy's, cluster-wide). */
  namespace?: string;
};

export type GuardVerdict = { run: true; ticket: Ticket } | Refusal;

export interface NodeCounts {
  total: number;
  /** Names of the nodes the cache shows unschedulable. */
  unschedulable: ReadonlySet<string>;
}

export interface GuardInput {
  policy: CompiledPolicy;
  planned: PlannedAction;
  pod: PodView;
  node?: NodeInfo;
  /** The pod's phase is Running: only then has it really run on its node. */
  podRunning: boolean;
  nodes: NodeCounts;
  now: number;
}

/**
 * Limits set by whoever installs the operator (flags). Policies may tighten them, never loosen
 * them: a policy author gets no more of the operator's powers than the installer allows.
 */
export interface GuardFloors {
  /** Always protected, unioned with each policy's guards.protectedNamespaces (globs). */
  protectedNamespaces: readonly Glob[];
  /** The most a policy's guards.maxCordonedNodesPercent may be. */
  maxCordonedNodesPercent: number;
  /** The most a policy's guards.maxActionsPerMinute may be. */
  maxActionsPerMinute: number;
}

export const NO_FLOORS: GuardFloors = {
  protectedNamespaces: [],
  maxCordonedNodesPercent: 100,
  maxActionsPerMinute: Number.MAX_SAFE_INTEGER,
};

export interface GuardOptions {
  dryRun: boolean;
  /** The operator's own namespace: always protected, whatever the policies say. */
  ownNamespace?: string;
  /** The installer's limits; default none beyond the policy's. */
  floors?: GuardFloors;
  /** Deletions of one owner's pods within loopWindowMs that make it a loop. Default 3 in 10 min. */
  loopThreshold?: number;
  loopWindowMs?: number;
  random?: () => number;
}

const MINUTE = 60_000;

export class Guards {
  private readonly rate: RateLimit;
  private readonly loop: LoopGuard;
  private readonly cordons = new CordonReservations();
  private readonly opts: GuardOptions;
  private readonly floors: GuardFloors;

  constructor(opts: GuardOptions) {
    this.opts = opts;
    this.floors = opts.floors ?? NO_FLOORS;
    this.loop = new LoopGuard(opts.loopThreshold ?? 3, opts.loopWindowMs ?? 10 * MINUTE);
    this.rate = new RateLimit(opts.random ?? Math.random);
  }

  /** May this planned action run now? A refusal says why; a ticket must be settled. */
  ask(input: GuardInput): GuardVerdict {
    const refusal = this.describingGuards(input);
    if (refusal) return refusal;
    if (this.opts.dryRun) return refuse('dryRun', 'dry run: nothing is changed', 'dry_run');
    const { policy, planned, pod, node, nodes, now } = input;
    const taken = this.rate.take(
      policy.policy.name,
      pod.metadata.namespace,
      this.maxActionsPerMinute(policy),
      now,
    );
    if (!taken.ok) {
      const refusal: Refusal = {
        ...refuse('breaker', taken.reason),
        retryAfterMs: taken.retryAfterMs,
      };
      if (taken.namespace !== undefined) refusal.namespace = taken.namespace;
      return refusal;
    }
    const type = planned.action.type;
    // Reserved now, before the PATCH: concurrent reconciles must see this cordon in the cap.
    const unreserve =
      type === 'CordonNode' && node && !nodes.unschedulable.has(node.name)
        ? this.cordons.reserve(node.name, now)
        : undefined;
    const owner = controllerOf(pod);
    let settled = false;
    return {
      run: true,
      ticket: {
        commit: () => {
          if (settled) return;
          settled = true;
          if (type === 'DeletePod' && owner)
            this.loop.record(policy.policy.name, ownerKey(pod, owner), now);
        },
        rollback: () => {
          if (settled) return;
          settled = true;
          taken.giveBack();
          unreserve?.();
        },
      },
    };
  }

  /** The guards that describe the target: they apply in a dry run too. */
  private describingGuards(input: GuardInput): Refusal | undefined {
    const { policy, planned, pod, node } = input;
    const { guards } = policy.policy.spec;
    const type: ActionType = planned.action.type;
    const ns = pod.metadata.namespace;
    if (ns === this.opts.ownNamespace || anyGlob(this.floors.protectedNamespaces, ns))
      return refuse(
        'protectedNamespace',
        `namespace ${ns} is protected by the operator's installation: report only`,
      );
    if (anyGlob(policy.protectedNamespaces, ns))
      return refuse('protectedNamespace', `namespace ${ns} is protected: report only`);
    const owner = controllerOf(pod);
    if (type === 'DeletePod' && owner && guards.ignoreOwnerKinds.includes(owner.kind)) {
      return refuse(
        'ignoreOwnerKind',
        `pods of a ${owner.kind} are not deleted (guards.ignoreOwnerKinds): it would recreate them`,
      );
    }
    if (type === 'CordonNode') {
      if (!node) return refuse('unboundPod', 'the pod is not bound to a known node');
      const cordon = this.cordonGuards(input, node);
      if (cordon) return cordon;
    }
    if (
      type === 'DeletePod' &&
      owner &&
      this.loop.looping(policy.policy.name, ownerKey(pod, owner), input.now)
    ) {
      return {
        ...refuse(
          'loop',
          `${owner.kind} ${owner.name} keeps recreating pods this policy deletes (${this.loop.threshold} within ${this.loop.windowMs / MINUTE} min): deletion stopped, fix or exclude the workload`,
        ),
        owner,
      };
    }
    return undefined;
  }

  private cordonGuards(input: GuardInput, node: NodeInfo): Refusal | undefined {
    const { nodes, now } = input;
    if (node.controlPlane)
      return refuse(
        'controlPlaneNode',
        `node ${node.name} is a control-plane node: never cordoned`,
      );
    // A node is evidence only if the scheduler put the pod there: a creator who pins a violating
    // pod with spec.nodeName chooses which node gets cordoned.
    const chosen = creatorChoseNode(input.pod);
    if (chosen)
      return refuse(
        'nodeNamePinned',
        `the pod's creator chose node ${node.name} (${chosen}): it is no evidence against the node`,
      );
    // A pod placed on a node but never started there is no evidence against the node either.
    if (!input.podRunning) return refuse('podNotRunning', 'pod not running yet', 'wait');
    if (nodes.unschedulable.has(node.name)) return undefined;
    const asked = input.policy.policy.spec.guards.maxCordonedNodesPercent;
    const limit = Math.min(asked, this.floors.maxCordonedNodesPercent);
    const cordoned = this.cordons.count(nodes, now);
    const after = nodes.total === 0 ? 100 : ((cordoned + 1) * 100) / nodes.total;
    if (after <= limit) return undefined;
    return refuse(
      'cordonCap',
      `cordoning ${node.name} would make ${cordoned + 1} of ${nodes.total} nodes unschedulable, over ${limit < asked ? `the operator's limit of ${limit}% (the policy asks ${asked}%)` : `guards.maxCordonedNodesPercent (${limit}%)`}`,
    );
  }

  /** The policy's action budget, within the installer's. */
  private maxActionsPerMinute(policy: CompiledPolicy): number {
    return Math.min(policy.policy.spec.guards.maxActionsPerMinute, this.floors.maxActionsPerMinute);
  }

  /** Namespaces whose own breaker is open now for the policy. */
  throttledNamespaces(policy: string, now: number): string[] {
    return this.rate.throttledNamespaces(policy, now);
  }

  /**
   * Whether the policy's breaker is open now. It closes a minute after it opened; the actions it
   * held back then run at the limit's pace, and it opens again if they exceed it.
   */
  breakerOpen(policy: string, now: number): boolean {
    return this.rate.breakerOpen(policy, now);
  }

  forgetPolicy(policy: string): void {
    this.rate.forget(policy);
    this.loop.forget(policy);
  }
}

/** Loop memory is per namespace: a UID claimed from another namespace is another owner. */
function ownerKey(pod: PodView, owner: OwnerReference): string {
  return `${pod.metadata.namespace}/${owner.uid}`;
}

/**
 * The pod's controller. The pod controller hands the guards a view whose ownerReferences were
 * checked against the cluster (controllers/pod/owner-verifier.ts): a claimed owner that doesn't
 * exist in the pod's namespace with that UID is not there, and the pod counts as bare.
 */
function controllerOf(pod: PodView): OwnerReference | undefined {
  return pod.metadata.ownerReferences.find((o) => o.controller);
}

function refuse(
  guard: GuardName,
  reason: string,
  outcome: Refusal['outcome'] = 'skipped',
): Refusal {
  return { run: false, outcome, guard, reason };
}
