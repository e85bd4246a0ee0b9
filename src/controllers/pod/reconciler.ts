// reconcile(podKey): read the cache, judge the pod, record the verdict on it (only the
// difference), then act through the guards. Level-based: the queue holds keys, never events, so
// a replayed or duplicated event, a resync or a restart finds the pod already as it should be and
// writes nothing. Announcing, recording and acting live in announcer.ts, record-writer.ts and
// remediation/remediator.ts; this file only sequences them.
import { systemClock, type Clock } from '../../base/clock.ts';
import type { Log } from '../../base/log.ts';
import type { Violation } from '../../engine/violation.ts';
import { inlineEvaluator, type PodEvaluator } from '../../evaluation/evaluator.ts';
import type { KubeApi } from '../../kube/api.ts';
import type { Store } from '../../kube/store.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { IsolationPolicy, NodeInfo } from '../../remediation/action.ts';
import type { Guards } from '../../remediation/guards.ts';
import { Remediator, type WorkloadResolver } from '../../remediation/remediator.ts';
import type { EventSink } from '../../report/events.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import {
  TerminalError,
  type ReconcileContext,
  type ReconcileResult,
} from '../../runtime/reconcile.ts';
import type { PolicyRegistry } from '../policy/registry.ts';
import {
  decodeRecorded,
  recordedState,
  type RecordedState,
  type RecordedViolation,
} from './annotation-codec.ts';
import { Announcer } from './announcer.ts';
import type { CachedPod } from './cached-pod.ts';
import type { NamespaceInfo } from './cached-namespace.ts';
import { PendingEvents } from './pending-events.ts';
import { PodMemory } from './pod-memory.ts';
import { OwnerVerifier } from './owner-verifier.ts';
import { RecordWriter } from './record-writer.ts';
import type { ViolatingPods } from './violating-pods.ts';

export interface PodReconcilerDeps {
  api: KubeApi;
  pods: Store<CachedPod>;
  namespaces: Store<NamespaceInfo>;
  nodes: Store<NodeInfo>;
  /** Cached NetworkPolicies by `namespace/name`, for Isolate's in-effect check. */
  isolations?: { get(key: string): IsolationPolicy | undefined };
  policies: PolicyRegistry;
  violating: ViolatingPods;
  guards: Guards;
  events: EventSink;
  status: PolicyStatusBook;
  owners: WorkloadResolver;
  metrics: Metrics;
  /** Where rule errors are logged (they are bugs, not verdicts). */
  log: Log;
  dryRun: boolean;
  /**
   * False when this operator loads only some policies (--policy-selector): annotation entries of
   * policies it doesn't know belong to another shard and are kept. True: an unknown policy was
   * deleted, and its entries go.
   */
  ownsAllPolicies: boolean;
  /** False once this replica stopped leading: then nothing is counted or announced any more. */
  isLeader?: () => boolean;
  clock?: Clock;
  /** Where pods are judged: a pool of worker threads in the operator; default this thread. */
  evaluator?: PodEvaluator;
}

/**
 * What the pod's record says, if we wrote it for this very pod: a record the pod arrived with
 * (forged to look already announced) is bound to no UID or another one, and counts for nothing.
 */
function trustedRecord(pod: { metadata: { uid?: string } }, r: RecordedState): RecordedViolation[] {
  return r.uid !== undefined && r.uid === pod.metadata.uid ? decodeRecorded(r.annotation) : [];
}

/** How long a pod waits for its namespace to reach the cache before it is judged without labels. */
const NAMESPACE_WAIT_MS = 5000;

export class PodReconciler {
  private readonly pending = new PendingEvents();
  private readonly memory = new PodMemory();
  private readonly announcer: Announcer;
  private readonly writer: RecordWriter;
  private readonly remediator: Remediator;
  private readonly verifier: OwnerVerifier;
  private readonly deps: PodReconcilerDeps;
  private readonly clock: Clock;

  constructor(deps: PodReconcilerDeps) {
    this.deps = deps;
    const clock = (this.clock = deps.clock ?? systemClock);
    const memory = this.memory;
    this.announcer = new Announcer({ ...deps, memory, clock });
    this.writer = new RecordWriter({
      api: deps.api,
      knowsPolicy: (name) => deps.policies.get(name) !== undefined,
      memory,
      ownsAllPolicies: deps.ownsAllPolicies,
      clock,
    });
    this.remediator = new Remediator({ ...deps, memory: (uid) => memory.actions(uid), clock });
    this.verifier = new OwnerVerifier(deps.api, clock);
  }

  /** From the pod reflector's handler: remember when the change arrived, and the last state of a deleted pod. */
  observed(key: string, receivedAt: number, deleted?: CachedPod): void {
    this.pending.arrived(key, receivedAt);
    if (deleted) this.pending.deleted(key, deleted);
  }

  async reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    // A demoted leader's workers may still hold a key: no metric, Event or status count from it.
    if (this.deps.isLeader && !this.deps.isLeader()) return;
    const cached = this.deps.pods.get(key);
    // A pod deleted (and perhaps recreated under its name) before we saw it is still announced.
    const last = this.pending.takeDeparted(key);
    if (last && last.view.metadata.uid !== cached?.view.metadata.uid)
      await this.reconcileGone(key, last, ctx.log, cached === undefined);
    if (!cached) {
      this.pending.takeArrival(key);
      this.deps.violating.delete(key);
      return;
    }
    return this.reconcileLive(key, cached, ctx.log);
  }

  private observeLatency(since: number | undefined): void {
    if (since !== undefined)
      this.deps.metrics.detectionLatency.observe(Math.max(0, this.clock.now() - since) / 1000);
  }

  private async judge(cached: CachedPod): Promise<{ violations: Violation[]; waiting: boolean }> {
    const pod = cached.view;
    const ns = this.deps.namespaces.get(pod.metadata.namespace);
    const now = this.clock.now();
    const evaluation = await (this.deps.evaluator ?? inlineEvaluator).evaluate(
      pod,
      this.deps.policies.ready(),
      {
        namespaceLabels: ns?.labels ?? {},
        now: new Date(now),
        trustCreationTimestamp: true,
        truncated: cached.truncated,
      },
    );
    this.deps.metrics.podsEvaluated.inc();
    for (const e of evaluation.errors.slice(0, 8)) {
      // A rule that could not run is a bug in the engine, not a verdict: loud, never silent.
      this.deps.log.error('rule could not be evaluated', {
        pod: `${pod.metadata.namespace}/${pod.metadata.name}`,
        policy: e.policy,
        rule: e.rule,
        error: e.message,
      });
    }
    const created = Date.parse(pod.metadata.creationTimestamp ?? '');
    const waiting =
      !ns &&
      this.deps.policies.usesNamespaceSelector() &&
      (Number.isNaN(created) || now - created < NAMESPACE_WAIT_MS);
    return { violations: evaluation.violations, waiting };
  }

  /**
   * The pod lived and died between two reconciles (an attacker's pod that deletes itself): there
   * is nothing left to write on or act against, but the detection must not be lost.
   */
  private async reconcileGone(
    key: string,
    last: CachedPod,
    log: Log,
    keyEmpty: boolean,
  ): Promise<void> {
    const { view: pod, falseClaims } = await this.verifier.verify(last.view);
    const { violations } = await this.judge({ ...last, view: pod });
    const recorded = recordedState(pod.metadata.annotations, pod.metadata.labels);
    const since = keyEmpty ? this.pending.arrival(key) : undefined;
    if (
      this.announcer.announce(pod, violations, trustedRecord(pod, recorded), log, {
        gone: true,
        falseClaims,
      })
    )
      this.observeLatency(since);
    this.memory.forget(pod.metadata.uid);
    this.deps.evaluator?.forget?.(pod.metadata.uid);
  }

  private async reconcileLive(
    key: string,
    cached: CachedPod,
    log: Log,
  ): Promise<ReconcileResult | void> {
    // Judged, recorded and acted on as the cluster confirms it: a claimed owner that doesn't
    // exist is not there (owner-verifier.ts).
    const { view: pod, falseClaims } = await this.verifier.verify(cached.view);
    const { violations, waiting } = await this.judge({ ...cached, view: pod });
    if (waiting) return { requeueAfterMs: 500 };
    const recorded = recordedState(pod.metadata.annotations, pod.metadata.labels);
    const before = trustedRecord(pod, recorded);
    const fresh = this.announcer.announce(pod, violations, before, log, {
      gone: false,
      falseClaims,
    });
    const since = this.pending.takeArrival(key);
    const refused = this.deps.dryRun
      ? undefined
      : await this.writer.record(
          pod,
          recorded,
          await this.writer.toRecord(violations, before),
          log,
        );
    // Watch event received -> violation recorded (on the pod; in a dry run, announced).
    if (fresh) this.observeLatency(since);
    this.deps.violating.set(
      key,
      { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid ?? '' },
      violations,
    );
    // A terminating pod is remediated too: its containers run until its grace period ends, and
    // its deleter chose that (delete-pod.ts shortens it).
    const result =
      violations.length === 0
        ? undefined
        : await this.remediator.remediate(pod, cached.phase, violations, log);
    // A record the server refuses (the pod's annotations at their size limit) never stops the
    // remediation above; retrying the same patch can't help, so the key waits for a change.
    if (refused)
      throw new TerminalError(`the API server refused the pod's record: ${refused.message}`, {
        cause: refused,
      });
    return result;
  }
}
