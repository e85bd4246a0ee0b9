// The acting half of a pod reconcile (Enforce only), as a pipeline of named steps for each
// planned action: choose (skip what is settled) -> ask the guards (a refusal, or a ticket) ->
// execute -> report through the outcome table (outcomes.ts) -> remember and settle the ticket.
//
// Exactly once per pod: DeletePod, CordonNode and every reported skip are settled for the pod's
// UID and the policy's generation and never redone; Label and Isolate are re-checked whenever the
// pod changes after our write, so an attacker who strips the quarantine label or the isolation
// label gets it back (their execute is a noop when all is in place).
import type { ActionType } from '../api/constants.ts';
import type { Clock } from '../base/clock.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { ObjectRef } from '../base/object-ref.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import { planRemediation, type PlannedAction } from '../engine/plan.ts';
import type { OwnerReference, PodView } from '../engine/pod.ts';
import type { Violation } from '../engine/violation.ts';
import type { KubeApi } from '../kube/api.ts';
import { parseResourceVersion } from '../kube/resource-version.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EventSink } from '../report/events.ts';
import type { PolicyStatusBook } from '../report/policy-status.ts';
import type { ActionTarget, IsolationPolicy, NodeInfo } from './action.ts';
import { isolationPolicyName } from './isolate.ts';
import { actionFor } from './action-catalog.ts';
import type { GuardVerdict, Guards, NodeCounts, Ticket } from './guards.ts';
import { reportFor, type Step, type StepContext } from './outcomes.ts';

/** For a settled action: done for good (null), or done as of this pod resourceVersion. */
export type Settled = bigint | null;

/** What the remediator remembers of one pod (by UID); the pod controller owns and forgets it. */
export interface ActionMemory {
  /** action key -> settled. */
  readonly settled: Map<string, Settled>;
  /** action key -> until when the cluster's refusal (a PDB) stands: only the requeue retries. */
  readonly refused: Map<string, number>;
}

/** The workload a person would fix, for a loop report: a ReplicaSet's Deployment, say. */
export interface WorkloadResolver {
  workload(namespace: string, owner: OwnerReference): Promise<ObjectRef>;
}

export interface RemediatorDeps {
  api: KubeApi;
  nodes: { get(name: string): NodeInfo | undefined; values(): Iterable<NodeInfo> };
  /** Cached NetworkPolicies by `namespace/name` (Isolate's in-effect check). */
  isolations?: { get(key: string): IsolationPolicy | undefined };
  policies: { compiled(name: string): CompiledPolicy | undefined };
  guards: Guards;
  events: EventSink;
  status: PolicyStatusBook;
  owners: WorkloadResolver;
  metrics: Metrics;
  memory: (uid: string) => ActionMemory;
  clock: Clock;
}

export interface RemediationResult {
  requeueAfterMs?: number;
}

/** Actions that are safe to re-check on every change of the pod. */
const REPAIRABLE: ReadonlySet<ActionType> = new Set(['Label', 'Isolate']);

const NO_NODES: NodeCounts = { total: 0, unschedulable: new Set() };

/** One planned action of one policy for one pod, with where its memory lives. */
interface Attempt extends StepContext {
  compiled: CompiledPolicy;
  planned: PlannedAction;
  /** By the action's place in the spec, the policy's uid and generation (see key()). */
  key: string;
  memory: ActionMemory;
  log: Log;
}

/** What one remediate() call gathers across its attempts. */
interface Run {
  pod: PodView;
  phase: string | undefined;
  node: NodeInfo | undefined;
  /** The pod's resourceVersion as the cache showed it. */
  seen: bigint | undefined;
  requeueAfterMs?: number;
  failure?: unknown;
}

export class Remediator {
  private readonly deps: RemediatorDeps;

  constructor(deps: RemediatorDeps) {
    this.deps = deps;
  }

  async remediate(
    pod: PodView,
    phase: string | undefined,
    violations: readonly Violation[],
    log: Log,
  ): Promise<RemediationResult | undefined> {
    const run: Run = {
      pod,
      phase,
      node: pod.spec.nodeName ? this.deps.nodes.get(pod.spec.nodeName) : undefined,
      seen: parseResourceVersion(pod.metadata.resourceVersion),
    };
    for (const attempt of this.attempts(pod, violations, log)) {
      if (this.isSettled(attempt, run.seen)) continue;
      const now = this.deps.clock.now();
      const step = await this.step(attempt, run, now);
      this.report(attempt, step);
      await this.remember(attempt, step, run, now);
    }
    // A failed action is retried with the queue's per-key backoff; the settled ones are not rerun.
    if (run.failure !== undefined) throw run.failure;
    return run.requeueAfterMs === undefined ? undefined : { requeueAfterMs: run.requeueAfterMs };
  }

  /** Every planned action of every policy the pod violates, in the policies' own order. */
  private *attempts(pod: PodView, violations: readonly Violation[], log: Log): Generator<Attempt> {
    const memory = this.deps.memory(pod.metadata.uid ?? '');
    for (const name of new Set(violations.map((v) => v.policy))) {
      const compiled = this.deps.policies.compiled(name);
      if (!compiled) continue;
      for (const planned of planRemediation(compiled, violations, pod).actions) {
        const type = planned.action.type;
        yield {
          policy: name,
          type,
          pod,
          compiled,
          planned,
          key: actionKey(compiled, planned),
          memory,
          log: log.child({ policy: name, action: type, namespace: pod.metadata.namespace }),
        };
      }
    }
  }

  private isSettled(a: Attempt, seen: bigint | undefined): boolean {
    const done = a.memory.settled.get(a.key);
    return done === null || (done !== undefined && (seen === undefined || seen <= done));
  }

  /** Chooses, asks the guards and executes: what happened to this action this time. */
  private async step(a: Attempt, run: Run, now: number): Promise<Step> {
    // Refused a moment ago (a PodDisruptionBudget): another change of the pod, such as our own
    // record landing, must not ask again before the requeue does.
    const refusedUntil = a.memory.refused.get(a.key);
    if (refusedUntil !== undefined && now < refusedUntil)
      return { kind: 'refusedEarlier', retryInMs: refusedUntil - now };
    const action = actionFor(a.planned.action);
    const target: ActionTarget = {
      pod: run.pod,
      node: run.node,
      isolation: this.isolation(run.pod),
    };
    // Checked before the guards: re-checking an action in effect never spends the rate limit.
    if (action.inEffect(target, a.planned.action)) return { kind: 'inEffect' };
    const verdict = this.ask(a, run, now);
    if (!verdict.run)
      return {
        kind: 'refusal',
        refusal: verdict,
        first: !a.memory.settled.has(`${a.key}/skipped`),
      };
    return this.execute(a, target, verdict.ticket, now);
  }

  private isolation(pod: PodView): IsolationPolicy | undefined {
    const uid = pod.metadata.uid;
    if (!uid || !this.deps.isolations) return undefined;
    return this.deps.isolations.get(`${pod.metadata.namespace}/${isolationPolicyName(uid)}`);
  }

  private ask(a: Attempt, run: Run, now: number): GuardVerdict {
    return this.deps.guards.ask({
      policy: a.compiled,
      planned: a.planned,
      pod: run.pod,
      node: run.node,
      podRunning: run.phase === 'Running',
      // Counting nodes is O(nodes): only the cordon guards read it.
      nodes: a.type === 'CordonNode' ? this.nodeCounts() : NO_NODES,
      now,
    });
  }

  private async execute(
    a: Attempt,
    target: ActionTarget,
    ticket: Ticket,
    now: number,
  ): Promise<Step> {
    const action = actionFor(a.planned.action);
    try {
      const outcome = await action.execute(
        { api: this.deps.api, policy: a.policy, because: a.planned.because, now: new Date(now) },
        target,
        a.planned.action,
      );
      // Only a change keeps what the ticket reserved; a noop, skip or refusal gives it back.
      if (outcome.kind === 'success') ticket.commit();
      else ticket.rollback();
      return { kind: 'executed', outcome };
    } catch (error) {
      // A failure changed nothing: its rate-limit slot and cordon reservation are free again,
      // so one pod's failing action can't open the breaker for every other pod.
      ticket.rollback();
      return { kind: 'failed', error };
    }
  }

  /** The outcome table's row for this step: metric, log line, Event. */
  private report(a: Attempt, step: Step): void {
    const r = reportFor(a, step);
    if (r.metric)
      this.deps.metrics.actions.inc({ policy: a.policy, action: a.type, outcome: r.metric });
    if (r.log) a.log[r.log.level](r.log.msg, r.log.fields);
    if (r.event) void this.deps.events.emit({ ...r.event, policy: a.policy });
  }

  /** What the step leaves behind: settled actions, retries, status counters, loop reports. */
  private async remember(a: Attempt, step: Step, run: Run, now: number): Promise<void> {
    const settle = (key: string, value: Settled): void => void a.memory.settled.set(key, value);
    const repairable = (rv: bigint | undefined): Settled =>
      REPAIRABLE.has(a.type) && rv !== undefined ? rv : null;
    const requeue = (ms: number): void => {
      run.requeueAfterMs = Math.min(run.requeueAfterMs ?? ms, ms);
    };
    switch (step.kind) {
      case 'inEffect':
        return settle(a.key, repairable(run.seen));
      case 'refusedEarlier':
        return requeue(step.retryInMs);
      case 'refusal':
        return this.rememberRefusal(a, step, requeue);
      case 'failed':
        run.failure ??= step.error;
        return;
      case 'executed': {
        const o = step.outcome;
        if (o.kind === 'refused') {
          a.memory.refused.set(a.key, now + o.retryAfterMs);
          return requeue(o.retryAfterMs);
        }
        if (o.kind === 'noop') return settle(a.key, repairable(run.seen));
        if (o.kind === 'skipped') return settle(a.key, null);
        settle(a.key, repairable(parseResourceVersion(o.resourceVersion)));
        this.deps.status.action(a.policy, a.type);
      }
    }
  }

  private async rememberRefusal(
    a: Attempt,
    step: Extract<Step, { kind: 'refusal' }>,
    requeue: (ms: number) => void,
  ): Promise<void> {
    const r = step.refusal;
    if (r.outcome === 'wait') return;
    // The breaker closes again; the pod is still there and still violating. Its skip is
    // reported once, but the action itself is not settled.
    if (r.guard === 'breaker') {
      a.memory.settled.set(`${a.key}/skipped`, null);
      if (r.retryAfterMs !== undefined) requeue(r.retryAfterMs);
    } else a.memory.settled.set(a.key, null);
    if (step.first && r.guard === 'loop' && r.owner) await this.reportLoop(a, r.owner, r.reason);
  }

  private nodeCounts(): NodeCounts {
    let total = 0;
    const unschedulable = new Set<string>();
    for (const n of this.deps.nodes.values()) {
      total++;
      if (n.unschedulable) unschedulable.add(n.name);
    }
    return { total, unschedulable };
  }

  /** A loop is reported once per workload and policy, on the workload a person would fix. */
  private async reportLoop(a: Attempt, owner: OwnerReference, reason: string): Promise<void> {
    const namespace = a.pod.metadata.namespace;
    let workload: ObjectRef = owner;
    try {
      workload = await this.deps.owners.workload(namespace, owner);
    } catch (err) {
      a.log.debug('could not resolve the owning workload', { error: errorMessage(err) });
    }
    if (
      !this.deps.status.looping(a.policy, { kind: workload.kind, namespace, name: workload.name })
    )
      return;
    a.log.warn('remediation loop', {
      owner: `${workload.kind}/${workload.name}`,
      outcome: 'skipped',
      reason,
    });
    void this.deps.events.emit({
      target: { ...workload, namespace },
      type: 'Warning',
      reason: 'RemediationLoop',
      action: 'DeletePod',
      policy: a.policy,
      message: `policy ${a.policy}: ${reason}`,
    });
  }
}

/**
 * By the action's place in the spec, the policy's uid and generation: plan positions shift with
 * minSeverity, and a changed or recreated policy is a new plan.
 */
function actionKey(c: CompiledPolicy, planned: PlannedAction): string {
  const { name, uid = '', generation = 0 } = c.policy;
  return `${name}/${uid}/${generation}/${c.policy.spec.actions.indexOf(planned.action)}`;
}
