// reconcile(podKey): read the cache, judge the pod, write only the difference, then act through
// the guards. Level-based: the queue holds keys, never events, so a replayed or duplicated event,
// a resync or a restart finds the pod already as it should be and writes nothing.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'winston';
import { evaluate } from '../engine/evaluate.ts';
import { planRemediation } from '../engine/plan.ts';
import type { PodView } from '../engine/pod.ts';
import type { Violation } from '../engine/violation.ts';
import type { KubeApi } from '../kube/client.ts';
import { isInvalid, isNotFound } from '../kube/errors.ts';
import type { Store } from '../kube/store.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { NodeInfo } from '../remediation/action.ts';
import { podPath, podRef } from '../remediation/action.ts';
import { actionFor } from '../remediation/actions.ts';
import type { Guards } from '../remediation/guards.ts';
import type { EventSink } from '../report/events.ts';
import type { PolicyStatusBook } from '../report/policy-status.ts';
import type { CachedPod, NamespaceInfo } from './cached-objects.ts';
import type { OwnerResolver } from './owner-resolver.ts';
import type { PolicyRegistry } from './policy-registry.ts';
import {
  decodeRecorded,
  encodeRecorded,
  summarizeRecorded,
  type RecordedState,
  recordPatch,
  recordedState,
  summarize,
  type RecordedViolation,
} from './recorded-violations.ts';
import type { ViolatingPods } from './violating-pods.ts';
import type { ReconcileResult } from './workers.ts';

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
  now?: () => number;
}

/** How long a pod waits for its namespace to reach the cache before it is judged without labels. */
const NAMESPACE_WAIT_MS = 5000;
/** Bounds for the per-pod memory below: a flood of pods must not grow it without limit. */
const MAX_TRACKED = 100_000;

export class PodReconciler {
  /** When the event that a pod's pending reconcile is about arrived (for detection latency). */
  private readonly pendingSince = new Map<string, number>();
  /** Last state of pods deleted before they were reconciled: short-lived attack pods. */
  private readonly gone = new Map<string, CachedPod>();
  /** pod uid -> violations already counted and announced (what the annotation says, or would in a dry run). */
  private readonly announced = new Map<string, Set<string>>();
  /** pod uid -> `policy/index` of its actions settled: run, already in place, or reported as skipped. */
  private readonly settled = new Map<string, Set<string>>();
  /**
   * pod uid -> the record we last wrote and the resourceVersion it produced. Watch events already
   * in flight still show the pod before our write; until the cache catches up, writing the same
   * record again would be a duplicate write.
   */
  private readonly ownWrites = new Map<string, { rv: bigint; value: string }>();
  private readonly d: PodReconcilerDeps;
  private readonly now: () => number;

  constructor(deps: PodReconcilerDeps) {
    this.d = deps;
    this.now = deps.now ?? Date.now;
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
    const started = performance.now();
    const log = this.d.log.child({ reconcileID: randomBytes(6).toString('hex'), pod: key });
    try {
      const cached = this.d.pods.get(key);
      if (!cached) return await this.reconcileGone(key, log);
      return await this.reconcileLive(key, cached, log);
    } finally {
      this.d.metrics.reconcileDuration.observe(
        { controller: 'pod' },
        (performance.now() - started) / 1000,
      );
    }
  }

  /** Forget per-pod memory when a pod's uid is gone for good. */
  private forgetPod(uid: string | undefined): void {
    if (!uid) return;
    this.announced.delete(uid);
    this.settled.delete(uid);
    this.ownWrites.delete(uid);
  }

  private judge(cached: CachedPod): { violations: Violation[]; waiting: boolean } {
    const pod = cached.view;
    const ns = this.d.namespaces.get(pod.metadata.namespace);
    const policies = this.d.policies.ready();
    const evaluation = evaluate(pod, policies, {
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

  /** Counts and announces violations not announced before; returns them. */
  private async announce(
    pod: PodView,
    violations: readonly Violation[],
    recordedBefore: readonly RecordedViolation[],
    key: string,
    log: Logger,
    gone: boolean,
  ): Promise<RecordedViolation[]> {
    const uid = pod.metadata.uid ?? key;
    const entries = summarize(violations);
    let seen = this.announced.get(uid);
    if (!seen) {
      seen = new Set(recordedBefore.map((e) => `${e.policy}\u0000${e.rule}`));
      if (this.announced.size >= MAX_TRACKED) this.announced.clear();
      this.announced.set(uid, seen);
    }
    const fresh = entries.filter((e) => !seen.has(`${e.policy}\u0000${e.rule}`));
    // Rules that stopped firing may fire again later: that is a new detection.
    const now = new Set(entries.map((e) => `${e.policy}\u0000${e.rule}`));
    for (const s of seen) if (!now.has(s)) seen.delete(s);
    if (fresh.length === 0) return fresh;
    const at = new Date(this.now());
    const since = this.pendingSince.get(key);
    if (since !== undefined)
      this.d.metrics.detectionLatency.observe(Math.max(0, at.getTime() - since) / 1000);
    for (const e of fresh) {
      seen.add(`${e.policy}\u0000${e.rule}`);
      this.d.metrics.violations.inc({
        policy: e.policy,
        rule: e.rule,
        severity: e.severity,
        namespace: pod.metadata.namespace,
      });
    }
    const byPolicy = new Map<string, RecordedViolation[]>();
    for (const e of fresh) byPolicy.set(e.policy, [...(byPolicy.get(e.policy) ?? []), e]);
    for (const [policy, list] of byPolicy) {
      this.d.status.violation(policy, at, list.length);
      const first = violations.find((v) => v.policy === policy);
      log.warn('policy violation', {
        namespace: pod.metadata.namespace,
        policy,
        rule: list.map((e) => e.rule).join(','),
        severity: list[0]?.severity,
        outcome: gone ? 'pod_gone' : 'recorded',
      });
      await this.d.events.emit({
        target: podRef(pod),
        type: 'Warning',
        reason: 'PolicyViolation',
        message: `violates policy ${policy}: ${list.map((e) => `${e.rule} (${e.severity})`).join(', ')}${first ? `; ${first.path}: ${first.message}` : ''}${gone ? ' [pod already deleted]' : ''}`,
      });
    }
    return fresh;
  }

  private async reconcileGone(key: string, log: Logger): Promise<void> {
    const last = this.gone.get(key);
    this.gone.delete(key);
    this.d.violating.delete(key);
    if (!last) {
      this.pendingSince.delete(key);
      return;
    }
    // The pod lived and died between two reconciles (an attacker's pod that deletes itself):
    // there is nothing left to write on or act against, but the detection must not be lost.
    const { violations } = this.judge(last);
    const pod = last.view;
    const recorded = decodeRecorded(
      recordedState(pod.metadata.annotations, pod.metadata.labels).annotation,
    );
    await this.announce(pod, violations, recorded, key, log, true);
    this.pendingSince.delete(key);
    this.forgetPod(pod.metadata.uid);
  }

  private async reconcileLive(
    key: string,
    cached: CachedPod,
    log: Logger,
  ): Promise<ReconcileResult | void> {
    const pod = cached.view;
    this.gone.delete(key);
    const { violations, waiting } = this.judge(cached);
    if (waiting) return { requeueAfterMs: 500 };
    const recorded = recordedState(pod.metadata.annotations, pod.metadata.labels);
    const before = decodeRecorded(recorded.annotation);
    await this.announce(pod, violations, before, key, log, false);
    this.pendingSince.delete(key);
    if (!this.d.dryRun) await this.record(pod, recorded, this.toRecord(violations, before), log);
    const owner = {
      namespace: pod.metadata.namespace,
      name: pod.metadata.name,
      uid: pod.metadata.uid ?? '',
    };
    this.d.violating.set(key, owner, violations);
    if (violations.length === 0 || pod.metadata.deletionTimestamp) return;
    return this.remediate(pod, violations, log);
  }

  /** What the annotation should say: our verdicts, plus other shards' entries when we are one. */
  private toRecord(
    violations: readonly Violation[],
    before: readonly RecordedViolation[],
  ): RecordedViolation[] {
    const entries = summarize(violations);
    if (this.d.ownsAllPolicies) return entries;
    const foreign = before.filter((e) => !this.d.policies.get(e.policy));
    return foreign.length === 0 ? entries : summarizeRecorded([...entries, ...foreign]);
  }

  private async record(
    pod: PodView,
    recorded: RecordedState,
    entries: RecordedViolation[],
    log: Logger,
  ): Promise<void> {
    const patch = recordPatch(recorded, entries, new Date(this.now()));
    if (!patch) return;
    const uid = pod.metadata.uid ?? '';
    const value = encodeRecorded(entries);
    const mine = this.ownWrites.get(uid);
    const seen = resourceVersion(pod.metadata.resourceVersion);
    if (mine && mine.value === value && seen !== undefined && seen < mine.rv) return;
    try {
      const result = await this.d.api.request<{ metadata?: { resourceVersion?: string } }>(
        'PATCH',
        podPath(pod),
        {
          contentType: 'application/merge-patch+json',
          body: { metadata: { uid: pod.metadata.uid, ...patch.metadata } },
        },
      );
      const rv = resourceVersion(result?.metadata?.resourceVersion);
      if (rv !== undefined) {
        if (this.ownWrites.size >= MAX_TRACKED) this.ownWrites.clear();
        this.ownWrites.set(uid, { rv, value });
      }
    } catch (err) {
      // Gone or replaced (the uid no longer matches): the next event for the key reconciles it.
      if (!isNotFound(err) && !isInvalid(err)) throw err;
      log.debug('pod vanished before its violations were recorded');
    }
  }

  private async remediate(
    pod: PodView,
    violations: Violation[],
    log: Logger,
  ): Promise<ReconcileResult | void> {
    const uid = pod.metadata.uid ?? '';
    const node = pod.spec.nodeName ? this.d.nodes.get(pod.spec.nodeName) : undefined;
    let requeueAfterMs: number | undefined;
    let failure: unknown;
    const policyNames = [...new Set(violations.map((v) => v.policy))];
    for (const name of policyNames) {
      const compiled = this.d.policies.compiled(name);
      if (!compiled) continue;
      const plan = planRemediation(compiled, violations, pod);
      for (const planned of plan.actions) {
        // By the action's place in the spec and the policy's generation: plan positions shift
        // with minSeverity, and a changed policy is a new plan.
        const specIndex = compiled.policy.spec.actions.indexOf(planned.action);
        const settledKey = `${name}/${compiled.policy.generation ?? 0}/${specIndex}`;
        if (this.settled.get(uid)?.has(settledKey)) continue;
        const type = planned.action.type;
        const alog = log.child({ policy: name, action: type, namespace: pod.metadata.namespace });
        const at = this.now();
        const verdict = this.d.guards.check({
          policy: compiled,
          planned,
          pod,
          node,
          nodes: this.nodeCounts(),
          now: at,
        });
        if (!verdict.run) {
          this.settle(uid, settledKey);
          this.d.metrics.actions.inc({ policy: name, action: type, outcome: verdict.outcome });
          alog.info('action skipped', {
            outcome: verdict.outcome,
            guard: verdict.guard,
            reason: verdict.reason,
          });
          await this.d.events.emit({
            target: podRef(pod),
            type: 'Normal',
            reason: 'ActionSkipped',
            action: type,
            message: `policy ${name}: ${type} skipped: ${verdict.reason}`,
          });
          if (verdict.guard === 'loop' && verdict.owner)
            await this.reportLoop(name, pod, verdict.owner, verdict.reason);
          // The breaker closes again; the pod is still there and still violating.
          if (verdict.guard === 'breaker') {
            this.settled.get(uid)?.delete(settledKey);
            requeueAfterMs = Math.min(requeueAfterMs ?? 60_000, 60_000);
          }
          continue;
        }
        try {
          const outcome = await actionFor(planned.action).execute(
            { api: this.d.api, policy: name, because: planned.because, now: new Date(this.now()) },
            { pod, node },
            planned.action,
          );
          if (outcome.kind !== 'success') this.d.guards.release(name, at);
          if (outcome.kind === 'noop') {
            this.settle(uid, settledKey);
            alog.debug('action already in effect', { outcome: 'noop', reason: outcome.why });
          } else if (outcome.kind === 'refused') {
            this.d.metrics.actions.inc({ policy: name, action: type, outcome: 'skipped' });
            alog.info('action refused', { outcome: 'refused', reason: outcome.why });
            await this.d.events.emit({
              target: podRef(pod),
              type: 'Warning',
              reason: 'ActionSkipped',
              action: type,
              message: `policy ${name}: ${type} refused by the cluster, will retry: ${outcome.why}`,
            });
            requeueAfterMs = Math.min(requeueAfterMs ?? outcome.retryAfterMs, outcome.retryAfterMs);
          } else {
            this.settle(uid, settledKey);
            this.d.metrics.actions.inc({ policy: name, action: type, outcome: 'success' });
            this.d.status.action(name, type);
            if (type === 'DeletePod') this.d.guards.deleted(name, pod, this.now());
            alog.warn('action taken', { outcome: 'success', reason: outcome.event.message });
            await this.d.events.emit(outcome.event);
          }
        } catch (err) {
          this.d.metrics.actions.inc({ policy: name, action: type, outcome: 'failed' });
          alog.error('action failed', { outcome: 'failed', error: (err as Error).message });
          failure ??= err;
        }
      }
    }
    // A failed action is retried with the queue's per-key backoff; the settled ones are not rerun.
    if (failure) throw failure;
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  private settle(uid: string, key: string): void {
    let set = this.settled.get(uid);
    if (!set) {
      if (this.settled.size >= MAX_TRACKED) this.settled.clear();
      this.settled.set(uid, (set = new Set()));
    }
    set.add(key);
  }

  private nodeCounts(): { total: number; unschedulable: number } {
    let total = 0;
    let unschedulable = 0;
    for (const n of this.d.nodes.values()) {
      total++;
      if (n.unschedulable) unschedulable++;
    }
    return { total, unschedulable };
  }

  private async reportLoop(
    policy: string,
    pod: PodView,
    owner: { kind: string; name: string; uid: string; apiVersion: string },
    reason: string,
  ): Promise<void> {
    const workload = await this.d.owners.workload(pod.metadata.namespace, owner);
    if (
      !this.d.status.looping(policy, {
        kind: workload.kind,
        namespace: pod.metadata.namespace,
        name: workload.name,
      })
    )
      return;
    this.d.log.warn('remediation loop', {
      policy,
      namespace: pod.metadata.namespace,
      owner: `${workload.kind}/${workload.name}`,
      action: 'DeletePod',
      outcome: 'skipped',
    });
    await this.d.events.emit({
      target: {
        apiVersion: workload.apiVersion,
        kind: workload.kind,
        name: workload.name,
        namespace: pod.metadata.namespace,
        uid: workload.uid,
      },
      type: 'Warning',
      reason: 'RemediationLoop',
      action: 'DeletePod',
      message: `policy ${policy}: ${reason}`,
    });
  }
}

/** resourceVersion as a number when it is one (etcd's are); undefined means "can't compare". */
function resourceVersion(rv: string | undefined): bigint | undefined {
  return rv !== undefined && /^[0-9]{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}
