// Every guard in one place, in front of every action: a remediation that makes an incident worse
// (deleting the kube-system DNS pods, cordoning half the cluster, a delete loop against a
// Deployment's template) is worse than none. The guards see the plan before any action runs and
// say, for each planned action, run / skipped (and why) / dry_run.
//
// Order matters: the guards that describe the target (protected namespace, owner kind, control
// plane, cordon cap, loop) come first, so a dry run reports what would really have happened; the
// rate limit comes last and counts only actions that would run.
import type { ActionType } from '../api/constants.ts';
import { compileGlob, anyGlob } from '../engine/glob.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { PlannedAction } from '../engine/plan.ts';
import type { OwnerReference, PodView } from '../engine/pod.ts';
import type { NodeInfo } from './action.ts';

export type GuardName =
  | 'dryRun'
  | 'protectedNamespace'
  | 'ignoreOwnerKind'
  | 'controlPlaneNode'
  | 'cordonCap'
  | 'loop'
  | 'breaker';

export type GuardVerdict =
  | { run: true }
  | {
      run: false;
      outcome: 'skipped' | 'dry_run';
      guard: GuardName;
      reason: string;
      /** For `loop`: the owner that keeps recreating the pod. */
      owner?: OwnerReference;
    };

export interface NodeCounts {
  total: number;
  unschedulable: number;
}

export interface GuardInput {
  policy: CompiledPolicy;
  planned: PlannedAction;
  pod: PodView;
  node?: NodeInfo;
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
}

const MINUTE = 60_000;

interface PolicyRate {
  /** Times of actions let through in the last minute. */
  ran: number[];
  openedAt?: number;
}

export class Guards {
  private readonly rates = new Map<string, PolicyRate>();
  /** policy -> owner uid -> times we deleted one of its pods. */
  private readonly deletions = new Map<string, Map<string, number[]>>();
  private readonly loopThreshold: number;
  private readonly loopWindowMs: number;
  private readonly opts: GuardOptions;

  constructor(opts: GuardOptions) {
    this.opts = opts;
    this.loopThreshold = opts.loopThreshold ?? 3;
    this.loopWindowMs = opts.loopWindowMs ?? 10 * MINUTE;
  }

  check(input: GuardInput): GuardVerdict {
    const { policy, planned, pod, node, nodes, now } = input;
    const { guards } = policy.policy.spec;
    const type: ActionType = planned.action.type;
    const ns = pod.metadata.namespace;
    if (ns === this.opts.ownNamespace || anyGlob(guards.protectedNamespaces.map(compileGlob), ns)) {
      return skip('protectedNamespace', `namespace ${ns} is protected: report only`);
    }
    const owner = pod.metadata.ownerReferences.find((o) => o.controller);
    if (type === 'DeletePod' && owner && guards.ignoreOwnerKinds.includes(owner.kind)) {
      return skip(
        'ignoreOwnerKind',
        `pods of a ${owner.kind} are not deleted (guards.ignoreOwnerKinds): it would recreate them`,
      );
    }
    if (type === 'CordonNode') {
      if (!node) return skip('controlPlaneNode', 'the pod is not bound to a known node');
      if (node.controlPlane)
        return skip(
          'controlPlaneNode',
          `node ${node.name} is a control-plane node: never cordoned`,
        );
      if (!node.unschedulable) {
        const limit = guards.maxCordonedNodesPercent;
        const after = nodes.total === 0 ? 100 : ((nodes.unschedulable + 1) * 100) / nodes.total;
        if (after > limit) {
          return skip(
            'cordonCap',
            `cordoning ${node.name} would make ${nodes.unschedulable + 1} of ${nodes.total} nodes unschedulable, over guards.maxCordonedNodesPercent (${limit}%)`,
          );
        }
      }
    }
    if (type === 'DeletePod' && owner && this.looping(policy.policy.name, owner.uid, now)) {
      return {
        run: false,
        outcome: 'skipped',
        guard: 'loop',
        owner,
        reason: `${owner.kind} ${owner.name} keeps recreating pods this policy deletes (${this.loopThreshold} within ${this.loopWindowMs / MINUTE} min): deletion stopped, fix or exclude the workload`,
      };
    }
    if (this.opts.dryRun) {
      return {
        run: false,
        outcome: 'dry_run',
        guard: 'dryRun',
        reason: 'dry run: nothing is changed',
      };
    }
    return this.rateCheck(policy.policy.name, guards.maxActionsPerMinute, now);
  }

  /** Record a DeletePod that happened, for loop detection. */
  deleted(policy: string, pod: PodView, now: number): void {
    const owner = pod.metadata.ownerReferences.find((o) => o.controller);
    if (!owner) return;
    let byOwner = this.deletions.get(policy);
    if (!byOwner) this.deletions.set(policy, (byOwner = new Map()));
    const times = (byOwner.get(owner.uid) ?? []).filter((t) => now - t < this.loopWindowMs);
    times.push(now);
    byOwner.set(owner.uid, times);
  }

  /**
   * Gives back the rate-limit slot check() took at `at` for an action that changed nothing (it was
   * already in effect, or the cluster refused it): after a restart, re-judging pods that are
   * already labelled must not open the breaker against the next real attack.
   */
  release(policy: string, at: number): void {
    const ran = this.rates.get(policy)?.ran;
    const i = ran?.lastIndexOf(at) ?? -1;
    if (ran && i >= 0) ran.splice(i, 1);
  }

  /** Whether the policy's breaker is open now (closes once a quiet minute has passed). */
  breakerOpen(policy: string, now: number): boolean {
    const r = this.rates.get(policy);
    if (!r || r.openedAt === undefined) return false;
    if (now - r.openedAt >= MINUTE && this.recent(r, now) === 0) r.openedAt = undefined;
    return r.openedAt !== undefined;
  }

  forgetPolicy(policy: string): void {
    this.rates.delete(policy);
    this.deletions.delete(policy);
  }

  private looping(policy: string, ownerUid: string, now: number): boolean {
    const times = this.deletions.get(policy)?.get(ownerUid) ?? [];
    return times.filter((t) => now - t < this.loopWindowMs).length >= this.loopThreshold;
  }

  private rateCheck(policy: string, max: number, now: number): GuardVerdict {
    let r = this.rates.get(policy);
    if (!r) this.rates.set(policy, (r = { ran: [] }));
    const ran = this.recent(r, now);
    if (this.breakerOpen(policy, now) || ran >= max) {
      // Every refusal restarts the cool-down: the breaker closes only after a quiet minute.
      r.openedAt = now;
      return skip(
        'breaker',
        `breaker open: more than guards.maxActionsPerMinute (${max}) actions in a minute`,
      );
    }
    r.ran.push(now);
    return { run: true };
  }

  private recent(r: PolicyRate, now: number): number {
    while (r.ran.length > 0 && now - (r.ran[0] as number) >= MINUTE) r.ran.shift();
    return r.ran.length;
  }
}

function skip(guard: GuardName, reason: string): GuardVerdict {
  return { run: false, outcome: 'skipped', guard, reason };
}
