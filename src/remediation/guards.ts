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

export interface GuardOptions {
  dryRun: boolean;
  /** The operator's own namespace: always protected, whatever the policies say. */
  ownNamespace?: string;
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

  constructor(opts: GuardOptions) {
    this.opts = opts;
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
      policy.policy.spec.guards.maxActionsPerMinute,
      now,
    );
    if (!taken.ok) return { ...refuse('breaker', taken.reason), retryAfterMs: taken.retryAfterMs };
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
          if (type === 'DeletePod' && owner) this.loop.record(policy.policy.name, owner.uid, now);
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
    if (ns === this.opts.ownNamespace || anyGlob(policy.protectedNamespaces, ns))
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
      this.loop.looping(policy.policy.name, owner.uid, input.now)
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
    // A pod pinned to a node but never started there is no evidence against the node, and
    // pinning Pending pods must not be a way to cordon nodes at will.
    if (!input.podRunning) return refuse('podNotRunning', 'pod not running yet', 'wait');
    if (nodes.unschedulable.has(node.name)) return undefined;
    const limit = input.policy.policy.spec.guards.maxCordonedNodesPercent;
    const cordoned = this.cordons.count(nodes, now);
    const after = nodes.total === 0 ? 100 : ((cordoned + 1) * 100) / nodes.total;
    if (after <= limit) return undefined;
    return refuse(
      'cordonCap',
      `cordoning ${node.name} would make ${cordoned + 1} of ${nodes.total} nodes unschedulable, over guards.maxCordonedNodesPercent (${limit}%)`,
    );
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
