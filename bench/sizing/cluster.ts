// The steps the sizing benchmarks share (bench-sizing, and the memory part of bench-operator):
// grow a namespace to a number of pods as a cluster holds them, time the API server's own
// paginated LIST of them, and measure a fresh operator's cold start and memory at that size.
// BENCH_MEMORY_LIMIT=MiB runs each operator in a memory cgroup of that limit; BENCH_HEAP=DIR
// writes heap snapshots; BENCH_SETTLE_SECONDS sets the settled window (default 20 s).
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../../src/base/log.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { kubectl, waitFor } from '../../test/integration/cluster.ts';
import {
  OperatorProcess,
  TEST_OWNER_LABEL,
  metricValue,
} from '../../test/integration/operator/harness.ts';
import { MemoryCgroup } from '../memory-cgroup.ts';
import { realisticPods, realisticPolicies } from '../workload.ts';

const SETTLE_MS = Number(process.env.BENCH_SETTLE_SECONDS ?? 20) * 1000;
const HEAP_DIR = process.env.BENCH_HEAP;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Sample {
  /** Every pod in the cluster: the operator watches them all. */
  pods: number;
  policies: number;
  readyMs: number;
  allJudgedMs: number;
  listMs: number;
  listBytes: number;
  rssMiB: number;
  rssAfterGcMiB: number;
  rssPeakMiB: number;
  mainHeapUsedBeforeGcMiB: number;
  mainHeapUsedMiB: number;
  mainHeapTotalMiB: number;
  externalMiB: number;
  workerHeapsMiB: number;
  coldStartMillicores: number;
  idleCpuMillicores: number;
  /** With BENCH_MEMORY_LIMIT: the limit, the cgroup's peak usage and its OOM kills. */
  memoryLimitMiB?: number;
  cgroupPeakMiB?: number;
  oomKills?: number;
}

/** The realistic policies, in Audit (an Enforce policy would delete pods and shrink the size). */
export function policies(owner: string, extra: number): unknown[] {
  const base = (
    realisticPolicies() as { metadata: { name: string }; spec: Record<string, unknown> }[]
  ).map((p) => ({
    ...p,
    metadata: {
      name: `size-${p.metadata.name}-${owner.slice(-8)}`,
      labels: { [TEST_OWNER_LABEL]: owner },
    },
    spec: { ...p.spec, mode: 'Audit', actions: undefined },
  }));
  const more = Array.from({ length: extra }, (_, i) => ({
    apiVersion: 'deployguard.dev/v1alpha1',
    kind: 'ContainerDeploymentPolicy',
    metadata: { name: `size-more-${i}-${owner.slice(-8)}`, labels: { [TEST_OWNER_LABEL]: owner } },
    spec: {
      mode: 'Audit',
      rules: {
        podSecurity: { level: 'baseline' },
        commands: { deniedPatterns: ['(?i)nsenter\\s+-t\\s*1', `payload-${i}\\b`] },
      },
    },
  }));
  return [...base, ...more];
}

/** The realistic shapes, made creatable: no uid, namespace, owner, timestamps or node. */
function creatable(p0: Record<string, unknown>): Record<string, unknown> {
  const p = p0 as { metadata: Record<string, unknown>; spec: Record<string, unknown> };
  const {
    uid: _uid,
    namespace: _ns,
    ownerReferences: _o,
    creationTimestamp: _c,
    managedFields: _m,
    ...metadata
  } = p.metadata;
  const { nodeName: _n, ...spec } = p.spec;
  return { ...p, metadata, spec };
}

const [APP, ATTACK] = realisticPods(20).filter((_, i) => i === 0 || i === 19) as Record<
  string,
  unknown
>[];
const PODS_PER_NODE = 110;

/** KWOK nodes as a cloud's, 110 pods each: enough for `pods` with room to spare. */
export async function ensureNodes(owner: string, pods: number): Promise<void> {
  const n = Math.ceil(pods / PODS_PER_NODE / 0.9) + 1;
  const items = Array.from({ length: n }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `dg-size-${i}`,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: { type: 'kwok', [TEST_OWNER_LABEL]: owner, 'kubernetes.io/hostname': `dg-size-${i}` },
    },
    status: {
      capacity: { cpu: '8', memory: '32Gi', pods: String(PODS_PER_NODE) },
      allocatable: { cpu: '8', memory: '32Gi', pods: String(PODS_PER_NODE) },
    },
  }));
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
  });
}

/**
 * Grows the namespace to `size` pods as a cluster holds them: nineteen in twenty from a
 * Deployment (the ReplicaSet controller creates them, the scheduler binds them, KWOK runs them),
 * one in twenty a bare attack pod. Returns once they all run.
 */
export async function growTo(
  api: KubeClient,
  ns: string,
  owner: string,
  size: number,
): Promise<void> {
  await ensureNodes(owner, size);
  const attacks = Math.floor(size / 20);
  const app = creatable(APP as Record<string, unknown>) as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    spec: unknown;
  };
  await kubectl(['apply', '--server-side', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api', namespace: ns },
      spec: {
        replicas: size - attacks,
        selector: { matchLabels: { app: 'api' } },
        // All at once: no rolling-update pacing of a first rollout.
        strategy: { type: 'Recreate' },
        template: {
          metadata: { labels: { app: 'api' }, annotations: app.metadata.annotations },
          spec: app.spec,
        },
      },
    }),
  });
  const bare = creatable(ATTACK as Record<string, unknown>) as { metadata: { name: string } };
  const have = new Set(
    (
      await api.request<{ items: { metadata: { name: string } }[] }>(
        'GET',
        `/api/v1/namespaces/${ns}/pods`,
        { query: { labelSelector: '!app' } },
      )
    ).items.map((p) => p.metadata.name),
  );
  const names = Array.from({ length: attacks }, (_, i) => `x-${i}`).filter((n) => !have.has(n));
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let name = names.pop(); name !== undefined; name = names.pop()) {
        const body = { ...bare, metadata: { ...bare.metadata, name } };
        for (let attempt = 0; ; attempt++) {
          try {
            await api.request('POST', `/api/v1/namespaces/${ns}/pods`, { body });
            break;
          } catch (err) {
            if (attempt >= 5) throw err;
            await sleep(500 * (attempt + 1));
          }
        }
      }
    }),
  );
  // Counted 500 a page, as the API server serves a large list without a timeout: one GET of
  // 50,000 pods on a busy server outran the client's 30 s. On 2 cores shared by the whole control
  // plane, the scheduler binds 50-70 pods/s up to 10,000 pods and about 11/s beyond 25,000, so
  // the wait grows with the size: 50,000 pods take over an hour here.
  await waitFor(
    `${size} pods running in ${ns}`,
    async () => (await countPods(api, ns, 'status.phase=Running')) >= size,
    Math.max(15 * 60_000, size * 100),
    Math.max(3000, size / 5),
  );
}

async function countPods(api: KubeClient, ns: string, fieldSelector: string): Promise<number> {
  let cont: string | undefined;
  let n = 0;
  do {
    const page = await api.request<{ items: unknown[]; metadata: { continue?: string } }>(
      'GET',
      `/api/v1/namespaces/${ns}/pods`,
      { query: { limit: '500', fieldSelector, ...(cont ? { continue: cont } : {}) } },
    );
    n += page.items.length;
    cont = page.metadata.continue || undefined;
  } while (cont);
  return n;
}

/** The API server's own cold start: every pod in the cluster, 500 a page, as kubectl get -A. */
export async function paginatedList(
  api: KubeClient,
): Promise<{ ms: number; bytes: number; items: number }> {
  const t0 = performance.now();
  let cont: string | undefined;
  let bytes = 0;
  let items = 0;
  do {
    const page = await api.request<{ items: unknown[]; metadata: { continue?: string } }>(
      'GET',
      '/api/v1/pods',
      {
        query: { limit: '500', ...(cont ? { continue: cont } : {}) },
      },
    );
    items += page.items.length;
    for (const it of page.items) bytes += JSON.stringify(it).length;
    cont = page.metadata.continue || undefined;
  } while (cont);
  return { ms: performance.now() - t0, bytes, items };
}

export async function measure(
  api: KubeClient,
  own: string,
  kubeconfig: string,
  policyCount: number,
): Promise<Sample> {
  const list = await paginatedList(api);
  const cgroup = await MemoryCgroup.fromEnv();
  try {
    return await measureIn(cgroup, own, kubeconfig, policyCount, list);
  } catch (err) {
    const u = await cgroup?.usage();
    throw new Error(
      `${errorMessage(err)}${u ? ` (memory cgroup: peak ${u.peakMiB} MiB, ${u.oomKills} OOM kills)` : ''}`,
      { cause: err },
    );
  } finally {
    await cgroup?.remove();
  }
}

async function measureIn(
  cgroup: MemoryCgroup | undefined,
  own: string,
  kubeconfig: string,
  policyCount: number,
  list: { ms: number; bytes: number; items: number },
): Promise<Sample> {
  const t0 = performance.now();
  const op = await OperatorProcess.start(
    {
      command: cgroup?.prefix,
      namespace: own,
      kubeconfig,
      args: ['--log-level=info'],
      nodeArgs: [
        '--inspect=127.0.0.1:0',
        // BENCH_HEAP=DIR: a heap snapshot of each size there, after the full collection.
        ...(HEAP_DIR ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_DIR}`] : []),
      ],
    },
    10 * 60_000,
  );
  try {
    const readyMs = performance.now() - t0;
    // Every pod judged at least once: the cold start as a user sees it.
    await waitFor(
      'every pod judged',
      async () => (await op.metric('deployguard_pods_evaluated_total')) >= list.items,
      10 * 60_000,
    );
    const allJudgedMs = performance.now() - t0;
    const cpu0 = await op.metric('process_cpu_seconds_total');
    // Cores used on average from the spawn until every pod was judged.
    const coldStartCores = cpu0 / (allJudgedMs / 1000);
    const tSettle = performance.now();
    await sleep(SETTLE_MS);
    const before = await op.metrics();
    // The high-water mark of the RSS since the spawn: the initial list and the first judgements.
    const hwm = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${op.pid}/status`, 'utf8'))?.[1];
    // What the main heap retains, after a full collection (the settled figures include garbage).
    await op.collectGarbage();
    const text = await op.metrics();
    // After the figures: writing a snapshot costs memory of its own.
    if (HEAP_DIR) await op.heapSnapshot(HEAP_DIR);
    const cpu1 = metricValue(before, 'process_cpu_seconds_total');
    const mib = (name: string) => Math.round(metricValue(text, name) / MiB);
    const sample: Sample = {
      pods: list.items,
      policies: policyCount,
      readyMs: Math.round(readyMs),
      allJudgedMs: Math.round(allJudgedMs),
      listMs: Math.round(list.ms),
      listBytes: list.bytes,
      rssMiB: Math.round(metricValue(before, 'process_resident_memory_bytes') / MiB),
      rssAfterGcMiB: mib('process_resident_memory_bytes'),
      rssPeakMiB: Math.round(Number(hwm) / 1024),
      mainHeapUsedBeforeGcMiB: Math.round(metricValue(before, 'nodejs_heap_size_used_bytes') / MiB),
      mainHeapUsedMiB: mib('nodejs_heap_size_used_bytes'),
      mainHeapTotalMiB: mib('nodejs_heap_size_total_bytes'),
      externalMiB: mib('nodejs_external_memory_bytes'),
      workerHeapsMiB: mib('deployguard_evaluation_worker_heap_bytes'),
      coldStartMillicores: Math.round(coldStartCores * 1000),
      idleCpuMillicores: Math.round(
        ((cpu1 - cpu0) / ((performance.now() - tSettle) / 1000)) * 1000,
      ),
    };
    if (cgroup) {
      const u = await cgroup.usage();
      sample.memoryLimitMiB = MemoryCgroup.limitMiB;
      sample.cgroupPeakMiB = u.peakMiB;
      sample.oomKills = u.oomKills;
    }
    console.error(JSON.stringify(sample));
    return sample;
  } finally {
    await op.stop();
  }
}

/** Namespaces an earlier run left terminating would change the size under measurement. */
export async function waitForQuiet(api: KubeClient): Promise<void> {
  await waitFor(
    'earlier bench namespaces gone',
    async () => {
      const l = await api.request<{ items: { metadata: { name: string } }[] }>(
        'GET',
        '/api/v1/namespaces',
      );
      return !l.items.some((n) => n.metadata.name.startsWith('dg-bench-'));
    },
    15 * 60_000,
    2000,
  );
}
