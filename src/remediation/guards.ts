// Every guard in one place, in front of every action: a remediation that makes an incident worse
// (deleting the kube-system DNS pods, cordoning half the cluster, a delete loop against a
// Deployment's template) is worse than none. The guards see the plan before any action runs and
// say, for each planned action, run / skipped (and why) / dry_run.
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

export type GuardVerdict =
  | { run: true }
  | {
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

interface PolicyRate {
  /** Times of actions let through in the last minute. */
  ran: number[];
  openedAt?: number;
}

/** A cordon let through stays counted this long, until the node cache shows it. */
const CORDON_RESERVATION_MS = 2 * MINUTE;
/** Retries after the breaker closes are spread over this long, not all at once. */
const BREAKER_JITTER_MS = 10_000;

export class Guards {
  private readonly rates = new Map<string, PolicyRate>();
  /** policy -> owner uid -> times we deleted one of its pods. */
  private readonly deletions = new Map<string, Map<string, number[]>>();
  /** Nodes a cordon was let through for, and when: in-flight cordons count towards the cap. */
  private readonly cordoning = new Map<string, number>();
  private readonly random: () => number;
  private readonly loopThreshold: number;
  private readonly loopWindowMs: number;
  private readonly opts: GuardOptions;

  constructor(opts: GuardOptions) {
    this.opts = opts;
    this.loopThreshold = opts.loopThreshold ?? 3;
    this.loopWindowMs = opts.loopWindowMs ?? 10 * MINUTE;
    this.random = opts.random ?? Math.random;
  }

  check(input: GuardInput): GuardVerdict {
    const { policy, planned, pod, node, nodes, now } = input;
    const { guards } = policy.policy.spec;
    const type: ActionType = planned.action.type;
    const ns = pod.metadata.namespace;
    if (ns === this.opts.ownNamespace || anyGlob(policy.protectedNamespaces, ns)) {
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
      if (!node) return skip('unboundPod', 'the pod is not bound to a known node');
      if (node.controlPlane)
        return skip(
          'controlPlaneNode',
          `node ${node.name} is a control-plane node: never cordoned`,
        );
      // A pod pinned to a node but never started there is no evidence against the node, and
      // pinning Pending pods must not be a way to cordon nodes at will.
      if (!input.podRunning)
        return {
          run: false,
          outcome: 'wait',
          guard: 'podNotRunning',
          reason: 'pod not running yet',
        };
      if (!nodes.unschedulable.has(node.name)) {
        const limit = guards.maxCordonedNodesPercent;
        const cordoned = this.cordonedCount(nodes, now);
        const after = nodes.total === 0 ? 100 : ((cordoned + 1) * 100) / nodes.total;
        if (after > limit) {
          return skip(
            'cordonCap',
            `cordoning ${node.name} would make ${cordoned + 1} of ${nodes.total} nodes unschedulable, over guards.maxCordonedNodesPercent (${limit}%)`,
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
    const verdict = this.rateCheck(policy.policy.name, guards.maxActionsPerMinute, now);
    // Reserved now, before the PATCH: concurrent reconciles must see this cordon in the cap.
    if (verdict.run && type === 'CordonNode' && node && !nodes.unschedulable.has(node.name))
      this.cordoning.set(node.name, now);
    return verdict;
  }

  /** A cordon that failed: its slot under the cap is free again. */
  cordonFailed(node: string): void {
    this.cordoning.delete(node);
  }

  private cordonedCount(nodes: NodeCounts, now: number): number {
    let n = nodes.unschedulable.size;
    for (const [name, at] of this.cordoning) {
      if (nodes.unschedulable.has(name) || now - at >= CORDON_RESERVATION_MS)
        this.cordoning.delete(name);
      else n++;
    }
    return n;
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
    // Owners whose last deletion is out of the window are forgotten, so this can't only grow.
    if (byOwner.size > 1000)
      for (const [uid, list] of byOwner)
        if (now - (list[list.length - 1] ?? 0) >= this.loopWindowMs) byOwner.delete(uid);
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

  /**
   * Whether the policy's breaker is open now. It closes a minute after it opened; the actions it
   * held back then run at the limit's pace, and it opens again if they exceed it.
   */
  breakerOpen(policy: string, now: number): boolean {
    const r = this.rates.get(policy);
    if (!r || r.openedAt === undefined) return false;
    if (now - r.openedAt >= MINUTE) {
      r.openedAt = undefined;
      r.ran = [];
    }
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
    const open = this.breakerOpen(policy, now);
    if (open || this.recent(r, now) >= max) {
      // The cool-down starts when the breaker opens, not at each refusal: otherwise the retries
      // of the pods it refused would keep it open for as long as they exist.
      if (!open) r.openedAt = now;
      const opened = r.openedAt ?? now;
      return {
        run: false,
        outcome: 'skipped',
        guard: 'breaker',
        reason: `breaker open: more than guards.maxActionsPerMinute (${max}) actions in a minute`,
        retryAfterMs:
          Math.max(0, opened + MINUTE - now) + Math.floor(this.random() * BREAKER_JITTER_MS),
      };
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
