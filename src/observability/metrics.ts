// The operator's Prometheus metrics (docs/api.md section 5: names and labels are public contract).
// One Registry per createMetrics call, never prom-client's global one, so tests can make many and
// nothing leaks between them.
//
// Cardinality: every label value is bounded. policy: by the number of policies; namespace (on
// violations only): by the number of namespaces, accepted because "which namespace is being
// attacked" is the question operators ask; rule/severity/mode/action/outcome: fixed vocabularies;
// resource/type/reason/controller: fixed by our code, and forced into a short identifier shape so a
// caller passing an error message by mistake cannot explode the series count. Never a pod name/UID.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SEVERITIES } from '../api/constants.ts';

export interface Metrics {
  registry: Registry;
  podsEvaluated: Counter<never>;
  violations: Counter<'policy' | 'rule' | 'severity' | 'namespace'>;
  violatingPods: Gauge<'policy' | 'severity'>;
  actions: Counter<'policy' | 'action' | 'outcome'>;
  detectionLatency: Histogram<never>;
  reconcileDuration: Histogram<'controller'>;
  reconciles: Counter<'controller' | 'result'>;
  watchEvents: Counter<'resource' | 'type'>;
  watchRestarts: Counter<'resource' | 'reason'>;
  lastWatchEvent: Gauge<'resource'>;
  workqueueDepth: Gauge<'controller'>;
  workqueueRetries: Counter<'controller'>;
  policies: Gauge<'mode' | 'ready'>;
  breakerOpen: Gauge<'policy'>;
  eventsDropped: Counter<'reason'>;
  admissionReviews: Counter<'kind' | 'outcome'>;
  admissionDuration: Histogram<never>;
  namespaceBreakerOpen: Gauge<'policy' | 'namespace'>;
  leader: Gauge<never>;
  buildInfo: Gauge<'version'>;
  evaluationWorkerHeap: Gauge<'worker'>;
  /** Where deployguard_evaluation_worker_heap_bytes reads from at each scrape. */
  readEvaluationHeaps(source: () => Promise<readonly number[]>): void;
}

// Detection is the headline number: from half a millisecond (cache hit, no API call) to 10 s (a
// backed-up queue). Reconciles add API round trips, so they reach a little further.
const DETECTION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const RECONCILE_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export function createMetrics(opts: { version: string; collectDefault?: boolean }): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers });

  // The evaluation workers' heaps are outside the process metrics' nodejs_heap_* (main thread
  // only), yet they are RSS: read when scraped, so the figure is never stale.
  let heapSource: (() => Promise<readonly number[]>) | undefined;
  const evaluationWorkerHeap = new Gauge<'worker'>({
    name: 'deployguard_evaluation_worker_heap_bytes',
    help: 'V8 heap size of each evaluation worker thread (main thread: nodejs_heap_size_total_bytes).',
    labelNames: ['worker'],
    registers,
    async collect() {
      this.reset();
      const heaps = heapSource ? await heapSource().catch(() => []) : [];
      heaps.forEach((bytes, i) => this.set({ worker: String(i) }, bytes));
    },
  });

  const m: Metrics = {
    evaluationWorkerHeap,
    readEvaluationHeaps: (source) => {
      heapSource = source;
    },
    registry,
    podsEvaluated: counter(
      'deployguard_pods_evaluated_total',
      'Pods evaluated against the policies (each reconcile of a pod counts once).',
      [],
    ),
    violations: counter(
      'deployguard_violations_total',
      'Violations newly recorded on a pod, by policy, rule ID, severity and namespace.',
      ['policy', 'rule', 'severity', 'namespace'],
    ),
    violatingPods: gauge(
      'deployguard_violating_pods',
      'Pods currently violating a policy, by policy and highest severity.',
      ['policy', 'severity'],
    ),
    actions: counter(
      'deployguard_actions_total',
      'Remediation actions by policy, action and outcome (success, failed, skipped by a guard, dry_run).',
      ['policy', 'action', 'outcome'],
    ),
    admissionReviews: counter(
      'deployguard_admission_reviews_total',
      'Admission reviews answered, by kind and outcome (allowed, warned, denied, invalid: a policy refused, failed_open: admitted unjudged).',
      ['kind', 'outcome'],
    ),
    admissionDuration: new Histogram({
      name: 'deployguard_admission_duration_seconds',
      help: 'Seconds from reading an admission review to answering it.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    detectionLatency: new Histogram({
      name: 'deployguard_detection_latency_seconds',
      help: 'Seconds from receiving the watch event of a pod to recording its violation.',
      buckets: DETECTION_BUCKETS,
      registers,
    }),
    reconcileDuration: new Histogram({
      name: 'deployguard_reconcile_duration_seconds',
      help: 'Seconds spent in one reconcile, by controller.',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
      registers,
    }),
    reconciles: counter(
      'deployguard_reconcile_total',
      'Reconciles by controller and result (success, requeue_after, error: retried with backoff, terminal_error: not retried).',
      ['controller', 'result'],
    ),
    watchEvents: counter(
      'deployguard_watch_events_total',
      'Watch events received, by resource and event type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).',
      ['resource', 'type'],
    ),
    watchRestarts: counter(
      'deployguard_watch_restarts_total',
      'Watches restarted, by resource and reason (e.g. expired, error, closed); each restart may relist.',
      ['resource', 'reason'],
    ),
    lastWatchEvent: gauge(
      'deployguard_last_watch_event_timestamp_seconds',
      'Unix time of the last watch event (bookmarks included) per resource; a stale value means a stuck watch.',
      ['resource'],
    ),
    workqueueDepth: gauge(
      'deployguard_workqueue_depth',
      'Keys waiting in the workqueue, by controller.',
      ['controller'],
    ),
    workqueueRetries: counter(
      'deployguard_workqueue_retries_total',
      'Keys requeued with backoff after a failed reconcile, by controller.',
      ['controller'],
    ),
    policies: gauge(
      'deployguard_policies',
      'ContainerDeploymentPolicies loaded, by mode (Audit, Enforce) and ready ("true" if valid).',
      ['mode', 'ready'],
    ),
    breakerOpen: gauge(
      'deployguard_breaker_open',
      "1 while a policy's action circuit breaker is open (actions skipped), else 0.",
      ['policy'],
    ),
    namespaceBreakerOpen: gauge(
      'deployguard_namespace_breaker_open',
      "1 for each namespace whose own breaker is open for a policy: it used up its share of the policy's actions (only while open).",
      ['policy', 'namespace'],
    ),
    eventsDropped: counter(
      'deployguard_events_dropped_total',
      'Events the event rate limit held back, by reason; each namespace, policy and reason gets one EventsHeldBack summary Event instead.',
      ['reason'],
    ),
    leader: gauge(
      'deployguard_leader',
      '1 while this replica holds the leader Lease and acts, else 0.',
      [],
    ),
    buildInfo: gauge(
      'deployguard_build_info',
      'Always 1; the version label says which deployguard build is running.',
      ['version'],
    ),
  };
  m.buildInfo.set({ version: boundedLabel(opts.version) }, 1);
  m.leader.set(0);
  if (opts.collectDefault ?? true) collectDefaultMetrics({ register: registry });
  return m;
}

/**
 * Caps a label value (a policy name can be 253 characters) so no single series is oversized.
 * Truncation works on code points, so the value stays valid UTF-8.
 */
export function boundedLabel(value: string, max = 63): string {
  const chars = Array.from(value);
  return chars.length <= max ? value : chars.slice(0, max).join('');
}

/** A value from one of our own fixed vocabularies; anything else collapses to "other". */
export function identifierLabel(value: string): string {
  return /^[A-Za-z0-9_.:-]{1,63}$/.test(value) ? value : 'other';
}

/** What the reflector (list+watch) reports. */
export function reflectorMetrics(m: Metrics): {
  watchEvent(resource: string, type: string): void;
  watchRestart(resource: string, reason: string): void;
  lastWatchEvent(resource: string, unixSeconds: number): void;
} {
  return {
    watchEvent: (resource, type) =>
      m.watchEvents.inc({ resource: identifierLabel(resource), type: identifierLabel(type) }),
    watchRestart: (resource, reason) =>
      m.watchRestarts.inc({ resource: identifierLabel(resource), reason: identifierLabel(reason) }),
    lastWatchEvent: (resource, unixSeconds) =>
      m.lastWatchEvent.set({ resource: identifierLabel(resource) }, unixSeconds),
  };
}

/** What a workqueue reports, already bound to its controller. */
export function queueMetrics(
  m: Metrics,
  controller: string,
): { depth(n: number): void; retry(): void } {
  const labels = { controller: identifierLabel(controller) };
  return {
    depth: (n) => m.workqueueDepth.set(labels, n),
    retry: () => m.workqueueRetries.inc(labels),
  };
}

/**
 * Drops the gauges of a deleted policy, which would otherwise report its last state forever.
 * Counters (violations_total, actions_total) are kept on purpose: they are history, and an alert
 * such as increase(deployguard_actions_total{outcome="failed"}[1h]) must still see the failures of
 * a policy deleted ten minutes ago. Their series are bounded by the policy names seen since the
 * process started and vanish on restart, which Prometheus handles as a counter reset.
 */
export function forgetPolicy(m: Metrics, policy: string): void {
  // prom-client removes only exact label sets; severity is a closed vocabulary, so list it. Both
  // spellings, in case a caller set the series without boundedLabel.
  for (const name of new Set([policy, boundedLabel(policy)])) {
    for (const severity of SEVERITIES) m.violatingPods.remove({ policy: name, severity });
    m.breakerOpen.remove({ policy: name });
  }
}

/** What the worker runner reports for one controller: duration and outcome of every reconcile. */
export function reconcileMetrics(
  m: Metrics,
  controller: string,
): { observe(seconds: number, result: string): void } {
  const c = identifierLabel(controller);
  return {
    observe: (seconds, result) => {
      m.reconcileDuration.observe({ controller: c }, seconds);
      m.reconciles.inc({ controller: c, result: identifierLabel(result) });
    },
  };
}
