// reconcile(podKey): read the cache, judge the pod, record the verdict on it (only the
// difference), then act through the guards. Level-based: the queue holds keys, never events, so
// a replayed or duplicated event, a resync or a restart finds the pod already as it should be and
// writes nothing. Recording and acting live in violation-recorder.ts and remediator.ts.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'winston';
import { evaluate } from '../../engine/evaluate.ts';
import type { Violation } from '../../engine/violation.ts';
import type { KubeApi } from '../../kube/client.ts';
import type { Store } from '../../kube/store.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { NodeInfo } from '../../remediation/action.ts';
import type { Guards } from '../../remediation/guards.ts';
import type { EventSink } from '../../report/events.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import type { CachedPod, NamespaceInfo } from '../cached-objects.ts';
import type { OwnerResolver } from './owner-resolver.ts';
import type { PolicyRegistry } from '../policy/registry.ts';
import {
  decodeRecorded,
  recordedState,
  type RecordedState,
  type RecordedViolation,
} from './annotation-codec.ts';
import { Remediator } from '../../remediation/remediator.ts';
import { MAX_TRACKED, ViolationRecorder } from './announcer.ts';
import type { ViolatingPods } from './violating-pods.ts';
import type { ReconcileResult } from '../../runtime/workers.ts';

export interface PodReconcilerDeps {
  api: KubeApi;
  pods: Store<CachedPod>;
  namespaces: Store<NamespaceInfo>;
  nodes: Store<NodeInfo>;
  policies: PolicyRegistry;
  violating: ViolatingPods;
  guards: Guards;
  events: EventSink;
  status: PolicyStatusBook;
  owners: OwnerResolver;
  metrics: Metrics;
  log: Logger;
  dryRun: boolean;
  /**
   * False when this operator loads only some policies (--policy-selector): annotation entries of
   * policies it doesn't know belong to another shard and are kept. True: an unknown policy was
   * deleted, and its entries go.
   */
  ownsAllPolicies: boolean;
  /** False once this replica stopped leading: then nothing is counted or announced any more. */
  isLeader?: () => boolean;
  now?: () => number;
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
  /** When the event that a pod's pending reconcile is about arrived (for detection latency). */
  private readonly pendingSince = new Map<string, number>();
  /** Last state of pods deleted before they were reconciled: short-lived attack pods. */
  private readonly gone = new Map<string, CachedPod>();
  private readonly recorder: ViolationRecorder;
  private readonly remediator: Remediator;
  private readonly d: PodReconcilerDeps;
  private readonly now: () => number;

  constructor(deps: PodReconcilerDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
    this.recorder = new ViolationRecorder({ ...deps, now: this.now });
    this.remediator = new Remediator({ ...deps, now: this.now });
  }

  /** From the pod reflector's handler: remember when the change arrived, and the last state of a deleted pod. */
  observed(key: string, receivedAt: number, deleted?: CachedPod): void {
    if (!this.pendingSince.has(key)) {
      if (this.pendingSince.size >= MAX_TRACKED) this.pendingSince.clear();
      this.pendingSince.set(key, receivedAt);
    }
    if (deleted) {
      if (this.gone.size >= MAX_TRACKED) this.gone.clear();
      this.gone.set(key, deleted);
    }
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    // A demoted leader's workers may still hold a key: no metric, Event or status count from it.
    if (this.d.isLeader && !this.d.isLeader()) return;
    const started = performance.now();
    const log = this.d.log.child({ reconcileID: randomBytes(6).toString('hex'), pod: key });
    try {
      const cached = this.d.pods.get(key);
      // A pod deleted (and perhaps recreated under its name) before we saw it is still announced.
      const last = this.gone.get(key);
      if (last) {
        this.gone.delete(key);
        if (last.view.metadata.uid !== cached?.view.metadata.uid)
          await this.reconcileGone(key, last, log, cached === undefined);
      }
      if (!cached) {
        this.pendingSince.delete(key);
        this.d.violating.delete(key);
        return;
      }
      return await this.reconcileLive(key, cached, log);
    } finally {
      this.d.metrics.reconcileDuration.observe(
        { controller: 'pod' },
        (performance.now() - started) / 1000,
      );
    }
  }

  private observeLatency(since: number | undefined): void {
    if (since !== undefined)
      this.d.metrics.detectionLatency.observe(Math.max(0, this.now() - since) / 1000);
  }

  private judge(cached: CachedPod): { violations: Violation[]; waiting: boolean } {
    const pod = cached.view;
    const ns = this.d.namespaces.get(pod.metadata.namespace);
    const evaluation = evaluate(pod, this.d.policies.ready(), {
      namespaceLabels: ns?.labels ?? {},
      now: new Date(this.now()),
      trustCreationTimestamp: true,
      truncated: cached.truncated,
    });
    this.d.metrics.podsEvaluated.inc();
    for (const e of evaluation.errors.slice(0, 8)) {
      // A rule that could not run is a bug in the engine, not a verdict: loud, never silent.
      this.d.log.error('rule could not be evaluated', {
        pod: `${pod.metadata.namespace}/${pod.metadata.name}`,
        policy: e.policy,
        rule: e.rule,
        error: e.message,
      });
    }
    const created = Date.parse(pod.metadata.creationTimestamp ?? '');
    const waiting =
      !ns &&
      this.d.policies.usesNamespaceSelector() &&
      (Number.isNaN(created) || this.now() - created < NAMESPACE_WAIT_MS);
    return { violations: evaluation.violations, waiting };
  }

  /**
   * The pod lived and died between two reconciles (an attacker's pod that deletes itself): there
   * is nothing left to write on or act against, but the detection must not be lost.
   */
  private async reconcileGone(
    key: string,
    last: CachedPod,
    log: Logger,
    keyEmpty: boolean,
  ): Promise<void> {
    const { violations } = this.judge(last);
    const pod = last.view;
    const recorded = recordedState(pod.metadata.annotations, pod.metadata.labels);
    const since = keyEmpty ? this.pendingSince.get(key) : undefined;
    if (await this.recorder.announce(pod, violations, trustedRecord(pod, recorded), log, true))
      this.observeLatency(since);
    this.recorder.forget(pod.metadata.uid);
    this.remediator.forget(pod.metadata.uid);
  }

  private async reconcileLive(
    key: string,
    cached: CachedPod,
    log: Logger,
  ): Promise<ReconcileResult | void> {
    const pod = cached.view;
    const { violations, waiting } = this.judge(cached);
    if (waiting) return { requeueAfterMs: 500 };
    const recorded = recordedState(pod.metadata.annotations, pod.metadata.labels);
    const before = trustedRecord(pod, recorded);
    const fresh = await this.recorder.announce(pod, violations, before, log, false);
    const since = this.pendingSince.get(key);
    this.pendingSince.delete(key);
    if (!this.d.dryRun)
      await this.recorder.record(
        pod,
        recorded,
        await this.recorder.toRecord(violations, before),
        log,
      );
    // Watch event received -> violation recorded (on the pod; in a dry run, announced).
    if (fresh) this.observeLatency(since);
    this.d.violating.set(
      key,
      { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid ?? '' },
      violations,
    );
    if (violations.length === 0 || pod.metadata.deletionTimestamp) return;
    return this.remediator.remediate(pod, cached.phase, violations, log);
  }
}
