// The operator's loop, composed: four reflectors fill the caches; their handlers only enqueue keys;
// when this replica leads, workers reconcile policies and pods, and timers flush policy status and
// PolicyReports and resync. A follower keeps its caches warm and writes nothing (LeaderGate). A
// leader that loses its lease stops at once; `done` resolves so main can exit.
import type { Logger } from 'winston';
import { POLICY_COLLECTION } from '../api/constants.ts';
import type { Config } from '../config.ts';
import { jsonEqual } from '../base/json.ts';
import { sleep } from '../kube/backoff.ts';
import type { KubeApi } from '../kube/client.ts';
import { Reflector, type Change } from '../kube/reflector.ts';
import { Store } from '../kube/store.ts';
import { queueMetrics, reflectorMetrics, type Metrics } from '../observability/metrics.ts';
import type { NodeInfo } from '../remediation/action.ts';
import { Guards } from '../remediation/guards.ts';
import { EventRecorder } from '../report/events.ts';
import { PolicyReporter, policyReportsServed } from '../report/policy-reports.ts';
import { PolicyStatusBook } from '../report/policy-status.ts';
import {
  cachedPod,
  namespaceInfo,
  nodeInfo,
  policyObject,
  type CachedPod,
  type NamespaceInfo,
  type PolicyObject,
} from '../controllers/cached-objects.ts';
import { LeaderElector } from './leader-election.ts';
import { LeaderGate } from './leader-gate.ts';
import { ApiOwnerResolver } from '../controllers/pod/owner-resolver.ts';
import { PodReconciler } from '../controllers/pod/reconciler.ts';
import { PolicyReconciler } from '../controllers/policy/reconciler.ts';
import { PolicyRegistry } from '../controllers/policy/registry.ts';
import { ViolatingPods } from '../controllers/pod/violating-pods.ts';
import { runWorkers } from './workers.ts';
import { WorkQueue } from './workqueue.ts';

export interface ManagerOptions {
  config: Readonly<Config>;
  api: KubeApi;
  log: Logger;
  metrics: Metrics;
  /** Where the Lease lives and which namespace is always protected. */
  namespace: string;
}

export type Ending = 'stopped' | 'lost-leadership';

const STATUS_EVERY_MS = 1000;
const REPORTS_EVERY_MS = 5000;

export class Manager {
  readonly done: Promise<Ending>;
  private resolveDone!: (e: Ending) => void;
  private readonly o: ManagerOptions;
  /** Stops the reflectors and the start-up of leading. */
  private readonly abort = new AbortController();
  /** Stops the elector; aborted last on shutdown, after the work is drained and the lease released. */
  private readonly election = new AbortController();
  private readonly pods = new Store<CachedPod>();
  private readonly namespaces = new Store<NamespaceInfo>();
  private readonly nodes = new Store<NodeInfo>();
  private readonly policies = new Store<PolicyObject>();
  private readonly reflectors: Reflector<unknown>[] = [];
  private readonly podQueue: WorkQueue;
  private readonly policyQueue: WorkQueue;
  private readonly registry = new PolicyRegistry();
  private readonly violating = new ViolatingPods();
  private readonly guards: Guards;
  private readonly status: PolicyStatusBook;
  private readonly podReconciler: PodReconciler;
  private readonly policyReconciler: PolicyReconciler;
  private readonly reporter: PolicyReporter;
  private readonly elector?: LeaderElector;
  private readonly gated: LeaderGate;
  private readonly events: EventRecorder;
  private leading = false;
  private policiesLoaded = false;
  private timers: NodeJS.Timeout[] = [];
  private workers: Promise<void>[] = [];
  private electorRun?: Promise<void>;

  constructor(o: ManagerOptions) {
    this.o = o;
    this.done = new Promise((r) => (this.resolveDone = r));
    const { config, metrics, log } = o;
    this.elector = config.leaderElect
      ? new LeaderElector({
          api: o.api,
          namespace: o.namespace,
          name: config.leaderElectionId,
          identity: config.identity,
          log: log.child({ component: 'leader-election' }),
          onStartedLeading: () => void this.lead(),
          onStoppedLeading: () => this.lostLeadership(),
          onNewLeader: (id) => log.info('leader is now', { leader: id }),
        })
      : undefined;
    this.gated = new LeaderGate(
      o.api,
      () => this.isLeader(),
      log.child({ component: 'api' }),
      this.elector ? () => this.elector?.remainingMs() ?? 0 : undefined,
    );
    const api = this.gated;
    this.podQueue = new WorkQueue({ metrics: queueMetrics(metrics, 'pod') });
    this.policyQueue = new WorkQueue({ metrics: queueMetrics(metrics, 'policy') });
    this.guards = new Guards({ dryRun: config.dryRun, ownNamespace: o.namespace });
    this.status = new PolicyStatusBook({ api });
    const events = (this.events = new EventRecorder({
      api,
      instance: config.identity,
      log: log.child({ component: 'events' }),
    }));
    this.reporter = new PolicyReporter({ api, violating: this.violating });
    this.podReconciler = new PodReconciler({
      api,
      pods: this.pods,
      namespaces: this.namespaces,
      nodes: this.nodes,
      policies: this.registry,
      violating: this.violating,
      guards: this.guards,
      events,
      status: this.status,
      owners: new ApiOwnerResolver(api),
      metrics,
      log: log.child({ controller: 'pod' }),
      dryRun: config.dryRun,
      ownsAllPolicies: !config.policySelector,
      isLeader: () => this.isLeader(),
    });
    this.policyReconciler = new PolicyReconciler({
      policies: this.policies,
      registry: this.registry,
      status: this.status,
      guards: this.guards,
      events,
      metrics,
      log: log.child({ controller: 'policy' }),
      requeuePods: () => this.requeueAllPods(),
    });
    this.buildReflectors();
  }

  isLeader(): boolean {
    return this.leading && (this.elector ? this.elector.isLeader() : true);
  }

  private buildReflectors(): void {
    const { api, metrics, log, config } = this.o;
    const m = reflectorMetrics(metrics);
    const podsPath = config.watchNamespace
      ? `/api/v1/namespaces/${encodeURIComponent(config.watchNamespace)}/pods`
      : '/api/v1/pods';
    const make = <T>(
      resource: string,
      listPath: string,
      transform: (raw: unknown) => T | undefined,
      store: Store<T>,
      onChange: (c: Change<T>) => void,
      query?: Record<string, string>,
    ): void => {
      this.reflectors.push(
        new Reflector<T>({
          resource,
          api,
          listPath,
          query,
          transform,
          store,
          onChange,
          metrics: m,
          log: log.child({ component: 'reflector', resource }),
        }) as Reflector<unknown>,
      );
    };
    make('pods', podsPath, cachedPod, this.pods, (c) => {
      // Only watch events count towards detection latency; a (re)list is not a new pod.
      // Followers keep no such memory: it would only grow, and be stale when they take over.
      if (this.isLeader() && (!c.fromList || c.type === 'deleted'))
        this.podReconciler.observed(
          c.key,
          c.receivedAt,
          c.type === 'deleted' ? c.object : undefined,
        );
      this.podQueue.add(c.key);
    });
    make('namespaces', '/api/v1/namespaces', namespaceInfo, this.namespaces, (c) => {
      if (c.type === 'updated' && c.old && jsonEqual(c.old.labels, c.object.labels)) return;
      for (const k of this.pods.keysInNamespace(c.object.name)) this.podQueue.add(k);
    });
    make('nodes', '/api/v1/nodes', nodeInfo, this.nodes, () => {});
    make(
      'policies',
      POLICY_COLLECTION,
      policyObject,
      this.policies,
      (c) => this.policyQueue.add(c.key),
      config.policySelector ? { labelSelector: config.policySelector } : undefined,
    );
  }

  start(): void {
    for (const r of this.reflectors) r.start();
    if (this.elector) this.electorRun = this.elector.run(this.election.signal);
    else void this.lead();
  }

  private async lead(): Promise<void> {
    const { log, metrics, config } = this.o;
    log.info('leading: waiting for caches to sync');
    while (!this.reflectors.every((r) => r.hasSynced())) {
      if (this.abort.signal.aborted) return;
      await sleep(100, this.abort.signal);
    }
    if (this.abort.signal.aborted) return;
    this.leading = true;
    metrics.leader.set(1);
    // Policies first, all of them, so no pod is judged against a partial set.
    for (const name of [...this.policies.keys()]) await this.policyReconciler.reconcile(name);
    this.policiesLoaded = true;
    if (this.abort.signal.aborted) return;
    const wlog = log.child({ component: 'workers' });
    this.workers.push(
      runWorkers(this.policyQueue, 1, (k) => this.policyReconciler.reconcile(k), wlog),
      runWorkers(this.podQueue, config.workers, (k) => this.podReconciler.reconcile(k), wlog),
    );
    this.requeueAllPods();
    let reportsOn = false;
    try {
      reportsOn = await policyReportsServed(this.o.api);
    } catch (err) {
      log.warn('could not probe for the PolicyReport CRD; reports off', {
        error: (err as Error).message,
      });
    }
    if (this.abort.signal.aborted) return;
    log.info('leading: caches synced, workers started', {
      pods: this.pods.size,
      policies: this.policies.size,
      policyReports: reportsOn,
      dryRun: config.dryRun,
    });
    if (reportsOn && !config.dryRun) {
      await this.reporter.reset().catch((err: unknown) =>
        log.warn('could not list PolicyReports; stale ones stay until their namespace changes', {
          error: (err as Error).message,
        }),
      );
      if (this.abort.signal.aborted) return;
      this.every(REPORTS_EVERY_MS, async () => {
        for (const e of await this.reporter.sync())
          log.warn('could not write a PolicyReport', { error: e.message });
      });
    }
    this.every(STATUS_EVERY_MS, () => this.flushStatus());
    this.every(config.resyncPeriodMs, async () => {
      log.debug('resync: re-judging every cached pod', { pods: this.pods.size });
      for (const k of this.policies.keys()) this.policyQueue.add(k);
      this.requeueAllPods();
    });
  }

  private async flushStatus(force = false): Promise<void> {
    const now = Date.now();
    const breaker = (p: string): boolean => this.guards.breakerOpen(p, now);
    const { metrics } = this.o;
    metrics.violatingPods.reset();
    for (const [policy, severity, n] of this.violating.series())
      metrics.violatingPods.set({ policy, severity }, n);
    for (const e of this.registry.all())
      metrics.breakerOpen.set({ policy: e.name }, breaker(e.name) ? 1 : 0);
    if (this.o.config.dryRun) return;
    const { failed } = await this.status.flush(
      { violatingPods: (p) => this.violating.count(p), breakerOpen: breaker },
      { force },
    );
    for (const [policy, err] of failed)
      this.o.log.warn('could not write policy status', { policy, error: err.message });
  }

  private every(ms: number, fn: () => Promise<void>): void {
    // lead() may get here after stop() cleared the timers (a SIGTERM during its awaits).
    if (this.abort.signal.aborted || !this.leading) return;
    let running = false;
    const t = setInterval(() => {
      if (running) return;
      running = true;
      fn()
        .catch((err: unknown) =>
          this.o.log.error('periodic task failed', { error: (err as Error).message }),
        )
        .finally(() => (running = false));
    }, ms);
    this.timers.push(t);
  }

  private requeueAllPods(): void {
    for (const k of this.pods.keys()) this.podQueue.add(k);
  }

  private lostLeadership(): void {
    // Writes stop now (the gate reads isLeader), and so does everything that counts or announces:
    // the queues are shut without draining and the timers cleared. The process exits, as
    // client-go's managers do.
    this.leading = false;
    this.podQueue.shutDown();
    this.policyQueue.shutDown();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.o.metrics.leader.set(0);
    this.o.log.error('lost the leader lease: stopping');
    this.resolveDone('lost-leadership');
  }

  healthz(): { ok: boolean; detail: string } {
    const dead = this.reflectors.filter((r) => !r.healthy()).map((r) => r.resource);
    return dead.length === 0
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: `watch failing past its backoff: ${dead.join(', ')}` };
  }

  readyz(): { ok: boolean; detail: string } {
    const unsynced = this.reflectors.filter((r) => !r.hasSynced()).map((r) => r.resource);
    if (unsynced.length > 0)
      return { ok: false, detail: `caches not synced: ${unsynced.join(', ')}` };
    if (this.leading && !this.policiesLoaded) return { ok: false, detail: 'policies not loaded' };
    return { ok: true, detail: 'ok' };
  }

  /**
   * Graceful stop: no new work; reconciles in flight finish (up to the deadline) while this replica
   * still leads, so their writes land; the final status is flushed; then the Lease is released,
   * so the other replica takes over within one retry period instead of a lease duration.
   */
  async stop(deadlineMs: number): Promise<void> {
    const { log, metrics } = this.o;
    const until = Date.now() + deadlineMs;
    const left = (): number => Math.max(0, until - Date.now());
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const drained = await Promise.all([
      this.podQueue.shutDownWithDrain(left()),
      this.policyQueue.shutDownWithDrain(left()),
    ]);
    if (!drained.every(Boolean)) log.warn('shutdown deadline passed with reconciles still running');
    // Each step is bounded by what is left of the deadline: an unreachable API server must not
    // hold the process past its grace period (the lease then expires by itself).
    await within(left(), this.events.flush());
    if (this.isLeader())
      await within(
        left(),
        this.flushStatus(true).catch(() => undefined),
      );
    await within(left(), Promise.all(this.reflectors.map((r) => r.stop())));
    this.leading = false;
    if (this.elector) await within(Math.max(left(), 2000), this.elector.release());
    this.election.abort();
    await within(2000, this.electorRun?.catch(() => undefined) ?? Promise.resolve());
    metrics.leader.set(0);
    this.resolveDone('stopped');
  }
}

/** Waits for `p`, or `ms`, whichever comes first. */
async function within(ms: number, p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
