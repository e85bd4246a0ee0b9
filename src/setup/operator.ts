// The operator, composed: every part of `deployguard run` and how they are wired, handed to the
// manager as components. The caches run on every replica; the policy and pod controllers and the
// periodic writers run on the leader. Everything that writes goes through one leader gate (ADR 6).
// Adding a watched kind, a controller, a server or a periodic task means adding it here (or in a
// file next to this one), never editing the manager.
import { systemClock, within, type Clock } from '../base/clock.ts';
import type { Log } from '../base/log.ts';
import type { Config } from '../config.ts';
import { compileGlob } from '../engine/glob.ts';
import { sameForReconcile } from '../controllers/pod/cached-pod.ts';
import { ApiOwnerResolver } from '../controllers/pod/owner-resolver.ts';
import { PodReconciler } from '../controllers/pod/reconciler.ts';
import { ViolatingPods } from '../controllers/pod/violating-pods.ts';
import { PolicyReconciler } from '../controllers/policy/reconciler.ts';
import { PolicyRegistry } from '../controllers/policy/registry.ts';
import { statusFlusher } from '../controllers/policy/status-flusher.ts';
import type { KubeApi } from '../kube/api.ts';
import {
  identifierLabel,
  queueMetrics,
  reconcileMetrics,
  type Metrics,
} from '../observability/metrics.ts';
import { inlineEvaluator } from '../evaluation/evaluator.ts';
import { VerdictCache } from '../evaluation/verdict-cache.ts';
import { WorkerPool } from '../evaluation/worker-pool.ts';
import { Guards } from '../remediation/guards.ts';
import { EventRecorder } from '../report/events.ts';
import { PolicyStatusBook } from '../report/policy-status.ts';
import { component } from '../runtime/component.ts';
import { Controller } from '../runtime/controller.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { LeaderGate } from '../runtime/leader-gate.ts';
import { Manager } from '../runtime/manager.ts';
import { Periodic } from '../runtime/periodic.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import { AdmissionComponent } from './admission.ts';
import { buildInformers, createCaches } from './caches.ts';
import { HttpServersComponent } from './http-servers.ts';
import { metricsSecurity } from './metrics-security.ts';
import { policyReportsTask } from './policy-reports-task.ts';

export interface OperatorOptions {
  config: Readonly<Config>;
  api: KubeApi;
  /** For the Lease alone (a pool of its own: renewals never wait behind writes); default `api`. */
  leaseApi?: KubeApi;
  /** For Events alone (a burst of them never holds back a record); default `api`. */
  eventsApi?: KubeApi;
  log: Log;
  metrics: Metrics;
  /** Where the Lease lives and which namespace is always protected. */
  namespace: string;
  clock?: Clock;
}

export interface Operator {
  manager: Manager;
  servers: HttpServersComponent;
  /** The admission webhook, when --admission-bind-address serves one. */
  admission?: AdmissionComponent;
}

const STATUS_EVERY_MS = 1000;
/** How often what the Event rate limit held back is summarised. */
const EVENT_SUMMARY_EVERY_MS = 10_000;

export function buildOperator(o: OperatorOptions): Operator {
  const { config, log, metrics } = o;
  const clock = o.clock ?? systemClock;
  const manager = new Manager({
    log,
    clock,
    election: config.leaderElect
      ? (hooks) =>
          new LeaderElector({
            api: o.leaseApi ?? o.api,
            namespace: o.namespace,
            name: config.leaderElectionId,
            identity: config.identity,
            clock,
            log: log.child({ component: 'leader-election' }),
            ...hooks,
            onNewLeader: (id) => log.info('leader is now', { leader: id }),
          })
      : undefined,
    onLeading: (on) => metrics.leader.set(on ? 1 : 0),
  });
  const api = new LeaderGate(
    o.api,
    () => manager.isLeader(),
    log.child({ component: 'api' }),
    config.leaderElect ? () => manager.remainingMs() ?? 0 : undefined,
  );
  const podQueue = new WorkQueue({ metrics: queueMetrics(metrics, 'pod'), clock });
  const policyQueue = new WorkQueue({ metrics: queueMetrics(metrics, 'policy'), clock });
  const registry = new PolicyRegistry();
  const violating = new ViolatingPods();
  const guards = new Guards({
    dryRun: config.dryRun,
    ownNamespace: o.namespace,
    floors: {
      protectedNamespaces: config.protectedNamespaces.map(compileGlob),
      maxCordonedNodesPercent: config.maxCordonedNodesPercent,
      maxActionsPerMinute: config.maxActionsPerMinute,
    },
  });
  const status = new PolicyStatusBook({ api, clock });
  const events = new EventRecorder({
    api: o.eventsApi ?? api,
    instance: config.identity,
    clock,
    log: log.child({ component: 'events' }),
    onHeldBack: (reason) => metrics.eventsDropped.inc({ reason: identifierLabel(reason) }),
  });
  const caches = createCaches();
  const requeueAllPods = (): void => {
    for (const k of caches.pods.keys()) podQueue.add(k);
  };
  const pool =
    config.evaluationWorkers > 0
      ? new WorkerPool({
          size: config.evaluationWorkers,
          clock,
          log: log.child({ component: 'evaluation' }),
        })
      : undefined;
  if (pool) metrics.readEvaluationHeaps(() => pool.heapSizes());
  const evaluator = new VerdictCache(pool ?? inlineEvaluator);
  const podReconciler = new PodReconciler({
    evaluator,
    api,
    pods: caches.pods,
    namespaces: caches.namespaces,
    nodes: caches.nodes,
    isolations: caches.networkPolicies,
    policies: registry,
    violating,
    guards,
    events,
    status,
    owners: new ApiOwnerResolver(api),
    metrics,
    log: log.child({ controller: 'pod' }),
    dryRun: config.dryRun,
    ownsAllPolicies: !config.policySelector,
    isLeader: () => manager.isLeader(),
    clock,
  });
  // Every replica answers admission, from the same caches and evaluation pool (a list of its own
  // in each worker: worker-pool.ts).
  const admission =
    config.admissionBindAddress !== '0'
      ? new AdmissionComponent({
          config,
          api,
          namespace: o.namespace,
          caches,
          evaluator: pool ?? inlineEvaluator,
          synced: () => informers.readyCheck().ok,
          isLeader: () => manager.isLeader(),
          clock,
          log: log.child({ component: 'admission' }),
          onOutcome: (kind, outcome, seconds) => {
            metrics.admissionReviews.inc({ kind, outcome });
            metrics.admissionDuration.observe(seconds);
          },
        })
      : undefined;
  const informers = buildInformers({
    caches,
    config,
    api: o.api,
    metrics,
    log,
    clock,
    on: {
      pod: (c) => {
        // A status report changes nothing reconcile reads: no reconcile (cached-pod.ts).
        if (c.type === 'updated' && c.old && sameForReconcile(c.old, c.object)) return;
        // Only watch events count towards detection latency; a (re)list is not a new pod.
        // Followers keep no such memory: it would only grow, and be stale when they take over.
        if (manager.isLeader() && (!c.fromList || c.type === 'deleted'))
          podReconciler.observed(c.key, c.receivedAt, c.type === 'deleted' ? c.object : undefined);
        podQueue.add(c.key);
      },
      namespaceLabelsChanged: (ns) => {
        for (const k of caches.pods.keysInNamespace(ns)) podQueue.add(k);
      },
      policy: (key) => {
        policyQueue.add(key);
        admission?.policyChanged(key);
      },
      isolationChanged: (podKey) => podQueue.add(podKey),
    },
  });
  const policyReconciler = new PolicyReconciler({
    policies: caches.policies,
    registry,
    status,
    guards,
    events,
    metrics,
    log: log.child({ controller: 'policy' }),
    requeuePods: requeueAllPods,
  });
  const wlog = log.child({ component: 'workers' });
  let policiesLoaded = false;
  const policyController = new Controller({
    name: 'policy',
    queue: policyQueue,
    workers: 1,
    reconcile: (k) => policyReconciler.reconcile(k),
    log: wlog,
    metrics: reconcileMetrics(metrics, 'policy'),
    beforeStart: async (signal) => {
      log.info('leading: waiting for caches to sync');
      await informers.waitForSync(signal);
      // Policies first, all of them, so no pod is judged against a partial set.
      for (const name of [...caches.policies.keys()]) {
        if (signal.aborted) return;
        await policyController.reconcileNow(name);
      }
      policiesLoaded = true;
    },
  });
  const podController = new Controller({
    name: 'pod',
    queue: podQueue,
    workers: config.workers,
    reconcile: (k, ctx) => podReconciler.reconcile(k, ctx),
    log: wlog,
    metrics: reconcileMetrics(metrics, 'pod'),
    afterStart: requeueAllPods,
  });
  const flushStatus = statusFlusher({
    status,
    violating,
    registry,
    guards,
    metrics,
    log,
    clock,
    dryRun: config.dryRun,
  });
  const servers = new HttpServersComponent({
    metricsBindAddress: config.metricsBindAddress,
    probeBindAddress: config.healthProbeBindAddress,
    metrics,
    metricsSecurity: metricsSecurity(config, o.api, clock),
    manager,
    log,
  });

  // Everywhere: the probes first (they answer while the caches sync), then the caches, then the
  // Event writer (its stop waits for the Events in flight).
  manager.add(servers);
  manager.add(informers);
  if (admission) manager.add(admission);
  // Closed last: the pod controller has drained by then.
  manager.add(
    component(
      'evaluation',
      false,
      () => undefined,
      () => evaluator.close(),
    ),
  );
  manager.add(
    component(
      'events',
      false,
      () => undefined,
      ({ graceful, deadlineMs }) =>
        graceful ? within(clock, deadlineMs, events.flush()) : undefined,
    ),
  );
  // The leader, started in this order and stopped in the reverse: the status flusher's last,
  // forced flush runs after the controllers have drained.
  manager.add(
    new Periodic({
      name: 'policy-status',
      everyMs: STATUS_EVERY_MS,
      task: () => flushStatus(),
      onGracefulStop: async () => {
        if (manager.isLeader()) await flushStatus(true).catch(() => undefined);
      },
      clock,
      log,
    }),
  );
  manager.add(
    new Periodic({
      name: 'event-summaries',
      everyMs: EVENT_SUMMARY_EVERY_MS,
      task: () => events.summarizeHeldBack(),
      onGracefulStop: () => events.summarizeHeldBack(),
      clock,
      log,
    }),
  );
  manager.add(policyController);
  manager.add(podController);
  manager.add(
    policyReportsTask({
      api,
      violating,
      dryRun: config.dryRun,
      clock,
      log,
      onProbed: (served) =>
        log.info('leading: caches synced, workers started', {
          pods: caches.pods.size,
          policies: caches.policies.size,
          policyReports: served,
          dryRun: config.dryRun,
        }),
    }),
  );
  manager.add(
    new Periodic({
      name: 'resync',
      everyMs: config.resyncPeriodMs,
      task: async () => {
        log.debug('resync: re-judging every cached pod', { pods: caches.pods.size });
        for (const k of caches.policies.keys()) policyQueue.add(k);
        requeueAllPods();
      },
      clock,
      log,
    }),
  );
  manager.addHealthCheck('watches', informers.healthCheck);
  manager.addReadyCheck('caches', informers.readyCheck);
  if (admission) manager.addReadyCheck('admission', () => admission.readiness());
  manager.addReadyCheck('policies', () =>
    manager.isLeader() && !policiesLoaded
      ? { ok: false, detail: 'policies not loaded' }
      : { ok: true, detail: 'ok' },
  );
  return { manager, servers, admission };
}
