import { expect } from 'chai';
import {
  boundedLabel,
  createMetrics,
  forgetPolicy,
  identifierLabel,
  queueMetrics,
  reflectorMetrics,
} from '../../../src/observability/metrics.ts';
import type { Metrics } from '../../../src/observability/metrics.ts';

/** The exposition text as { name -> { help, type, samples } }. */
async function scrape(m: Metrics) {
  const families = new Map<string, { help: string; type: string; samples: string[] }>();
  for (const line of (await m.registry.metrics()).split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, text] = meta as unknown as [string, string, string, string];
      const f = families.get(name) ?? { help: '', type: '', samples: [] };
      if (kind === 'HELP') f.help = text;
      else f.type = text;
      families.set(name, f);
    } else if (line !== '') {
      const name = line.split(/[{ ]/, 1)[0] as string;
      const family = [...families.keys()].find((n) => name === n || name.startsWith(`${n}_`));
      families.get(family as string)?.samples.push(line);
    }
  }
  return families;
}

// The public contract (docs/api.md section 5): name -> [type, label names].
const CONTRACT: Record<string, [string, string[]]> = {
  deployguard_pods_evaluated_total: ['counter', []],
  deployguard_violations_total: ['counter', ['policy', 'rule', 'severity', 'namespace']],
  deployguard_violating_pods: ['gauge', ['policy', 'severity']],
  deployguard_actions_total: ['counter', ['policy', 'action', 'outcome']],
  deployguard_detection_latency_seconds: ['histogram', []],
  deployguard_reconcile_duration_seconds: ['histogram', ['controller']],
  deployguard_reconcile_total: ['counter', ['controller', 'result']],
  deployguard_watch_events_total: ['counter', ['resource', 'type']],
  deployguard_watch_restarts_total: ['counter', ['resource', 'reason']],
  deployguard_last_watch_event_timestamp_seconds: ['gauge', ['resource']],
  deployguard_workqueue_depth: ['gauge', ['controller']],
  deployguard_workqueue_retries_total: ['counter', ['controller']],
  deployguard_policies: ['gauge', ['mode', 'ready']],
  deployguard_breaker_open: ['gauge', ['policy']],
  deployguard_events_dropped_total: ['counter', ['reason']],
  deployguard_namespace_breaker_open: ['gauge', ['policy', 'namespace']],
  deployguard_leader: ['gauge', []],
  deployguard_build_info: ['gauge', ['version']],
  deployguard_evaluation_worker_heap_bytes: ['gauge', ['worker']],
  deployguard_admission_reviews_total: ['counter', ['kind', 'outcome']],
  deployguard_admission_duration_seconds: ['histogram', []],
};

describe('observability/metrics', () => {
  it('registers exactly the contract metrics, each with a type and a real help text', async () => {
    const families = await scrape(createMetrics({ version: '1.2.3', collectDefault: false }));
    expect([...families.keys()].sort()).to.deep.equal(Object.keys(CONTRACT).sort());
    for (const [name, [type]] of Object.entries(CONTRACT)) {
      const f = families.get(name);
      expect(f?.type, name).to.equal(type);
      expect(f?.help.length, `${name} help`).to.be.greaterThan(20);
    }
  });

  it('uses exactly the contract label names', async () => {
    const m = createMetrics({ version: '1.2.3', collectDefault: false });
    const labelNames = (metric: object): string[] =>
      [...((metric as { labelNames: string[] }).labelNames ?? [])].sort();
    const byName: Record<string, object> = Object.fromEntries(
      Object.entries(m)
        .filter(([k]) => k !== 'registry')
        .map(([, v]) => [(v as { name: string }).name, v]),
    );
    for (const [name, [, labels]] of Object.entries(CONTRACT))
      expect(labelNames(byName[name] as object), name).to.deep.equal([...labels].sort());
  });

  it("reads the evaluation workers' heaps when scraped, and none while no pool is wired", async () => {
    const m = createMetrics({ version: '1.2.3', collectDefault: false });
    const samples = async () =>
      (await scrape(m)).get('deployguard_evaluation_worker_heap_bytes')?.samples ?? [];
    expect(await samples()).to.deep.equal([]);
    let heaps = [10, 20];
    m.readEvaluationHeaps(async () => heaps);
    expect(await samples()).to.deep.equal([
      'deployguard_evaluation_worker_heap_bytes{worker="0"} 10',
      'deployguard_evaluation_worker_heap_bytes{worker="1"} 20',
    ]);
    heaps = [30];
    expect(await samples()).to.deep.equal([
      'deployguard_evaluation_worker_heap_bytes{worker="0"} 30',
    ]);
    m.readEvaluationHeaps(() => Promise.reject(new Error('gone')));
    expect(await samples()).to.deep.equal([]);
  });

  it('sets build_info to 1 with the version, and leader to 0 until elected', async () => {
    const families = await scrape(createMetrics({ version: '1.2.3', collectDefault: false }));
    expect(families.get('deployguard_build_info')?.samples).to.deep.equal([
      'deployguard_build_info{version="1.2.3"} 1',
    ]);
    expect(families.get('deployguard_leader')?.samples).to.deep.equal(['deployguard_leader 0']);
  });

  it('buckets detection latency from 0.5 ms to 10 s', async () => {
    const m = createMetrics({ version: 'v', collectDefault: false });
    m.detectionLatency.observe(0.0004);
    const samples = (await scrape(m)).get('deployguard_detection_latency_seconds')?.samples ?? [];
    expect(samples).to.include('deployguard_detection_latency_seconds_bucket{le="0.0005"} 1');
    expect(samples).to.include('deployguard_detection_latency_seconds_bucket{le="10"} 1');
  });

  it('gives every call its own registry, with default process metrics unless disabled', async () => {
    const a = createMetrics({ version: 'v' });
    const b = createMetrics({ version: 'v' });
    expect(a.registry).to.not.equal(b.registry);
    a.podsEvaluated.inc(3);
    expect((await scrape(b)).get('deployguard_pods_evaluated_total')?.samples).to.deep.equal([
      'deployguard_pods_evaluated_total 0',
    ]);
    expect([...(await scrape(a)).keys()]).to.include('process_cpu_user_seconds_total');
    const bare = await scrape(createMetrics({ version: 'v', collectDefault: false }));
    expect([...bare.keys()]).to.not.include('process_cpu_user_seconds_total');
  });

  it('reflector and queue adapters feed their metrics', async () => {
    const m = createMetrics({ version: 'v', collectDefault: false });
    const r = reflectorMetrics(m);
    r.watchEvent('pods', 'ADDED');
    r.watchEvent('pods', 'ADDED');
    r.watchRestart('pods', 'expired');
    r.lastWatchEvent('pods', 1700000000);
    const q = queueMetrics(m, 'pod');
    q.depth(7);
    q.retry();
    const f = await scrape(m);
    expect(f.get('deployguard_watch_events_total')?.samples).to.deep.equal([
      'deployguard_watch_events_total{resource="pods",type="ADDED"} 2',
    ]);
    expect(f.get('deployguard_watch_restarts_total')?.samples).to.deep.equal([
      'deployguard_watch_restarts_total{resource="pods",reason="expired"} 1',
    ]);
    expect(f.get('deployguard_last_watch_event_timestamp_seconds')?.samples).to.deep.equal([
      'deployguard_last_watch_event_timestamp_seconds{resource="pods"} 1700000000',
    ]);
    expect(f.get('deployguard_workqueue_depth')?.samples).to.deep.equal([
      'deployguard_workqueue_depth{controller="pod"} 7',
    ]);
    expect(f.get('deployguard_workqueue_retries_total')?.samples).to.deep.equal([
      'deployguard_workqueue_retries_total{controller="pod"} 1',
    ]);
  });

  it('collapses free text passed as a reason into "other", keeping cardinality bounded', async () => {
    const m = createMetrics({ version: 'v', collectDefault: false });
    reflectorMetrics(m).watchRestart('pods', 'connect ECONNREFUSED 10.0.0.1:443');
    expect((await scrape(m)).get('deployguard_watch_restarts_total')?.samples).to.deep.equal([
      'deployguard_watch_restarts_total{resource="pods",reason="other"} 1',
    ]);
    expect(identifierLabel('')).to.equal('other');
    expect(identifierLabel('BOOKMARK')).to.equal('BOOKMARK');
  });

  it('bounds label values by code points', () => {
    expect(boundedLabel('short')).to.equal('short');
    expect(boundedLabel('x'.repeat(253))).to.have.length(63);
    expect(Array.from(boundedLabel('é😀'.repeat(40), 5))).to.have.length(5);
  });

  it('forgetPolicy drops the gauges of a policy, keeps its counters and other policies', async () => {
    const m = createMetrics({ version: 'v', collectDefault: false });
    const long = 'p'.repeat(100);
    for (const policy of ['gone', 'kept', long]) {
      m.violatingPods.set({ policy, severity: 'high' }, 2);
      m.violatingPods.set({ policy, severity: 'critical' }, 1);
      m.breakerOpen.set({ policy }, 1);
    }
    m.actions.inc({ policy: 'gone', action: 'DeletePod', outcome: 'success' });
    forgetPolicy(m, 'gone');
    forgetPolicy(m, long);
    const f = await scrape(m);
    expect(f.get('deployguard_violating_pods')?.samples).to.deep.equal([
      'deployguard_violating_pods{policy="kept",severity="high"} 2',
      'deployguard_violating_pods{policy="kept",severity="critical"} 1',
    ]);
    expect(f.get('deployguard_breaker_open')?.samples).to.deep.equal([
      'deployguard_breaker_open{policy="kept"} 1',
    ]);
    expect(f.get('deployguard_actions_total')?.samples).to.have.length(1);
  });
});
