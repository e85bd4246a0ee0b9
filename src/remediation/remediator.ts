// The acting half of a pod reconcile (Enforce only): each policy's plan, action by action,
// through the guards. Exactly once per pod: DeletePod, CordonNode and every reported skip are
// settled for the pod's UID and the policy's generation and never redone; Label and Isolate are
// re-checked whenever the pod changes after our write, so an attacker who strips the quarantine
// label or the isolation label gets it back (their execute is a noop when all is in place).
import type { Logger } from 'winston';
import type { ActionType } from '../api/constants.ts';
import { planRemediation } from '../engine/plan.ts';
import type { PodView } from '../engine/pod.ts';
import type { Violation } from '../engine/violation.ts';
import type { KubeApi } from '../kube/client.ts';
import type { Store } from '../kube/store.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { NodeInfo } from './action.ts';
import { podRef } from './action.ts';
import { actionFor } from './action-catalog.ts';
import type { GuardVerdict, Guards } from './guards.ts';
import type { EventSink } from '../report/events.ts';
import type { PolicyStatusBook } from '../report/policy-status.ts';
import type { OwnerResolver } from '../controllers/pod/owner-resolver.ts';
import type { PolicyRegistry } from '../controllers/policy/registry.ts';
import { MAX_TRACKED, resourceVersion } from '../controllers/pod/announcer.ts';
import type { ReconcileResult } from '../runtime/workers.ts';

export interface RemediatorDeps {
  api: KubeApi;
  nodes: Store<NodeInfo>;
  policies: PolicyRegistry;
  guards: Guards;
  events: EventSink;
  status: PolicyStatusBook;
  owners: OwnerResolver;
  metrics: Metrics;
  now: () => number;
}

/** Actions that are safe to re-check on every change of the pod. */
const REPAIRABLE: ReadonlySet<ActionType> = new Set(['Label', 'Isolate']);

/** For a settled action: done for good (null), or done as of this pod resourceVersion. */
type Settled = bigint | null;

export class Remediator {
  /** pod uid -> action key -> settled. */
  private readonly settled = new Map<string, Map<string, Settled>>();
  /** pod uid -> action key -> until when the cluster's refusal (a PDB) stands: only the requeue retries. */
  private readonly refused = new Map<string, Map<string, number>>();
  private readonly d: RemediatorDeps;

  constructor(deps: RemediatorDeps) {
    this.d = deps;
  }

  forget(uid: string | undefined): void {
    if (!uid) return;
    this.settled.delete(uid);
    this.refused.delete(uid);
  }

  async remediate(
    pod: PodView,
    phase: string | undefined,
    violations: readonly Violation[],
    log: Logger,
  ): Promise<ReconcileResult | void> {
    const uid = pod.metadata.uid ?? '';
    const node = pod.spec.nodeName ? this.d.nodes.get(pod.spec.nodeName) : undefined;
    const seen = resourceVersion(pod.metadata.resourceVersion);
    let requeueAfterMs: number | undefined;
    let failure: unknown;
    const requeue = (ms: number): void => {
      requeueAfterMs = Math.min(requeueAfterMs ?? ms, ms);
    };
    for (const name of [...new Set(violations.map((v) => v.policy))]) {
      const compiled = this.d.policies.compiled(name);
      if (!compiled) continue;
      const plan = planRemediation(compiled, violations, pod);
      const { uid: policyUid = '', generation = 0 } = compiled.policy;
      for (const planned of plan.actions) {
        // By the action's place in the spec, the policy's uid and generation: plan positions
        // shift with minSeverity, and a changed or recreated policy is a new plan.
        const specIndex = compiled.policy.spec.actions.indexOf(planned.action);
        const key = `${name}/${policyUid}/${generation}/${specIndex}`;
        const done = this.settled.get(uid)?.get(key);
        if (done === null || (done !== undefined && (seen === undefined || seen <= done))) continue;
        // Refused a moment ago (a PodDisruptionBudget): another change of the pod, such as our own
        // record landing, must not ask again before the requeue does.
        const refusedUntil = this.refused.get(uid)?.get(key);
        if (refusedUntil !== undefined && this.d.now() < refusedUntil) {
          requeue(refusedUntil - this.d.now());
          continue;
        }
        const type = planned.action.type;
        const action = actionFor(planned.action);
        if (action.inEffect({ pod, node }, planned.action)) {
          this.settle(uid, key, REPAIRABLE.has(type) ? (seen ?? null) : null);
          continue;
        }
        const alog = log.child({ policy: name, action: type, namespace: pod.metadata.namespace });
        const at = this.d.now();
        const verdict = this.d.guards.check({
          policy: compiled,
          planned,
          pod,
          node,
          podRunning: phase === 'Running',
          nodes: this.nodeCounts(),
          now: at,
        });
        if (!verdict.run) {
          const retry = await this.skipped(name, pod, type, verdict, uid, key, alog);
          if (retry !== undefined) requeue(retry);
          continue;
        }
        try {
          const outcome = await action.execute(
            { api: this.d.api, policy: name, because: planned.because, now: new Date(at) },
            { pod, node },
            planned.action,
          );
          if (outcome.kind !== 'success') {
            this.d.guards.release(name, at);
            if (type === 'CordonNode' && node) this.d.guards.cordonFailed(node.name);
          }
          if (outcome.kind === 'noop') {
            this.settle(uid, key, REPAIRABLE.has(type) ? (seen ?? null) : null);
            alog.debug('action already in effect', { outcome: 'noop', reason: outcome.why });
          } else if (outcome.kind === 'skipped' || outcome.kind === 'refused') {
            this.d.metrics.actions.inc({ policy: name, action: type, outcome: 'skipped' });
            alog.info('action skipped', { outcome: 'skipped', reason: outcome.why });
            void this.d.events.emit({
              target: podRef(pod),
              type: outcome.kind === 'refused' ? 'Warning' : 'Normal',
              reason: 'ActionSkipped',
              action: type,
              message: `policy ${name}: ${type} ${outcome.kind === 'refused' ? 'refused by the cluster, will retry' : 'skipped'}: ${outcome.why}`,
            });
            if (outcome.kind === 'refused') {
              let byKey = this.refused.get(uid);
              if (!byKey) {
                if (this.refused.size >= MAX_TRACKED) this.refused.clear();
                this.refused.set(uid, (byKey = new Map()));
              }
              byKey.set(key, at + outcome.retryAfterMs);
              requeue(outcome.retryAfterMs);
            } else this.settle(uid, key, null);
          } else {
            const rv = resourceVersion(outcome.resourceVersion);
            this.settle(uid, key, REPAIRABLE.has(type) && rv !== undefined ? rv : null);
            this.d.metrics.actions.inc({ policy: name, action: type, outcome: 'success' });
            this.d.status.action(name, type);
            if (type === 'DeletePod') this.d.guards.deleted(name, pod, at);
            alog.warn('action taken', { outcome: 'success', reason: outcome.event.message });
            void this.d.events.emit(outcome.event);
          }
        } catch (err) {
          // A failure changed nothing: its rate-limit slot and cordon reservation are free again,
          // so one pod's failing action can't open the breaker for every other pod.
          this.d.guards.release(name, at);
          if (type === 'CordonNode' && node) this.d.guards.cordonFailed(node.name);
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

  /** Reports a guard's refusal once per pod; returns when to look again, if the guard may lift. */
  private async skipped(
    policy: string,
    pod: PodView,
    type: ActionType,
    verdict: Extract<GuardVerdict, { run: false }>,
    uid: string,
    key: string,
    log: Logger,
  ): Promise<number | undefined> {
    if (verdict.outcome === 'wait') {
      log.debug('action waits', { guard: verdict.guard, reason: verdict.reason });
      return undefined;
    }
    // The breaker closes again; the pod is still there and still violating. Its skip is
    // reported once, but the action itself is not settled.
    const first = !this.settled.get(uid)?.has(`${key}/skipped`);
    if (verdict.guard === 'breaker') this.settle(uid, `${key}/skipped`, null);
    else this.settle(uid, key, null);
    if (first) {
      this.d.metrics.actions.inc({ policy, action: type, outcome: verdict.outcome });
      log.info('action skipped', {
        outcome: verdict.outcome,
        guard: verdict.guard,
        reason: verdict.reason,
      });
      void this.d.events.emit({
        target: podRef(pod),
        type: 'Normal',
        reason: 'ActionSkipped',
        action: type,
        message: `policy ${policy}: ${type} skipped: ${verdict.reason}`,
      });
      if (verdict.guard === 'loop' && verdict.owner)
        await this.reportLoop(policy, pod, verdict.owner, verdict.reason, log);
    }
    return verdict.guard === 'breaker' ? verdict.retryAfterMs : undefined;
  }

  private settle(uid: string, key: string, value: Settled): void {
    let map = this.settled.get(uid);
    if (!map) {
      if (this.settled.size >= MAX_TRACKED) this.settled.clear();
      this.settled.set(uid, (map = new Map()));
    }
    map.set(key, value);
  }

  private nodeCounts(): { total: number; unschedulable: Set<string> } {
    let total = 0;
    const unschedulable = new Set<string>();
    for (const n of this.d.nodes.values()) {
      total++;
      if (n.unschedulable) unschedulable.add(n.name);
    }
    return { total, unschedulable };
  }

  private async reportLoop(
    policy: string,
    pod: PodView,
    owner: { kind: string; name: string; uid: string; apiVersion: string },
    reason: string,
    log: Logger,
  ): Promise<void> {
    const namespace = pod.metadata.namespace;
    const workload = await this.d.owners.workload(namespace, owner);
    if (!this.d.status.looping(policy, { kind: workload.kind, namespace, name: workload.name }))
      return;
    log.warn('remediation loop', {
      owner: `${workload.kind}/${workload.name}`,
      outcome: 'skipped',
      reason,
    });
    void this.d.events.emit({
      target: { ...workload, namespace },
      type: 'Warning',
      reason: 'RemediationLoop',
      action: 'DeletePod',
      message: `policy ${policy}: ${reason}`,
    });
  }
}
