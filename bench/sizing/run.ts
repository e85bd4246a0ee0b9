// `make bench-sizing`: what the operator costs as the cluster grows, the figures its requests and
// limits come from (config/manager, the chart's values). For each size (BENCH_SIZES, default
// 0,1000,5000,10000 pods: Deployment pods and one bare attack pod in twenty, on KWOK nodes), it
// starts a fresh operator as its own ServiceAccount with the three realistic policies, and measures:
// - cold start: from the spawn to /readyz, and to every pod judged, beside the API server's own
//   paginated LIST of the same pods in the same run (the baseline);
// - memory once settled: RSS and its high-water mark; after a full GC the RSS and what the main
//   heap retains; memory outside V8 and the evaluation threads' heaps (the operator's metrics);
// - idle CPU over the settled window.
// At the largest size it runs once more with 200 more policies, for what policies cost.
// BENCH_MEMORY_LIMIT=MiB runs each operator in a memory cgroup of that limit; BENCH_HEAP=DIR
// writes heap snapshots. Prints JSON with the per-pod figures. No bound here: it measures.
import { KubeClient } from '../../src/kube/client.ts';
import {
  ensureCluster,
  installCrd,
  freshNamespace,
  kubectl,
  loadKubeConfig,
} from '../../test/integration/cluster.ts';
import {
  TEST_OWNER_LABEL,
  cleanUpOperators,
  operatorAccount,
} from '../../test/integration/operator/harness.ts';
import { growTo, measure, policies, waitForQuiet, type Sample } from './cluster.ts';

const SIZES = (process.env.BENCH_SIZES ?? '0,1000,5000,10000').split(',').map(Number);
const EXTRA_POLICIES = 200;
const MiB = 1024 * 1024;

async function main(): Promise<number> {
  await ensureCluster();
  const api = new KubeClient(() => loadKubeConfig());
  await waitForQuiet(api);
  // The policies are applied before the operator (which would install the CRD) starts.
  await installCrd();
  const own = await freshNamespace('dg-bench-size-op');
  const ns = await freshNamespace('dg-bench-size');
  const kubeconfig = await operatorAccount(own);
  // The realistic pods run as their own ServiceAccount, which admission wants to exist.
  await kubectl(['create', 'serviceaccount', 'api', '-n', ns]);
  const base = policies(own, 0);
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: base }),
  });
  const samples: Sample[] = [];
  try {
    for (const size of [...SIZES].sort((a, b) => a - b)) {
      const t = performance.now();
      await growTo(api, ns, own, size);
      console.error(`${size} pods running in ${Math.round(performance.now() - t)} ms`);
      samples.push(await measure(api, own, kubeconfig, base.length));
    }
    const extra = policies(own, EXTRA_POLICIES).slice(base.length);
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: extra }),
    });
    samples.push(await measure(api, own, kubeconfig, base.length + EXTRA_POLICIES));
  } finally {
    await cleanUpOperators();
    await kubectl(
      ['delete', 'containerdeploymentpolicy', '-l', `${TEST_OWNER_LABEL}=${own}`, '--wait=false'],
      {
        allowFail: true,
      },
    );
    // The pods go first: KWOK confirms their deletion only while their nodes exist.
    await kubectl(['delete', 'namespace', ns, own, '--timeout=10m'], {
      allowFail: true,
      timeoutMs: 11 * 60_000,
    });
    await kubectl(['delete', 'nodes', '-l', `${TEST_OWNER_LABEL}=${own}`, '--wait=false'], {
      allowFail: true,
    });
  }
  const bySize = samples.filter((s) => s.policies === base.length);
  const first = bySize[0] as Sample;
  const last = bySize[bySize.length - 1] as Sample;
  const most = samples[samples.length - 1] as Sample;
  const dPods = last.pods - first.pods;
  const KiB = 1024;
  const perPod = (a: number, b: number): number | null =>
    dPods > 0 ? Number((((b - a) * MiB) / dPods / KiB).toFixed(2)) : null;
  const results = {
    samples,
    // Per pod, from the smallest to the largest size with the realistic policies: the RSS as the
    // kernel counts it, and what the main heap retains after a full collection. The JSON of the
    // same pods is what a cache of whole objects would start from.
    perPod: {
      rssKiB: perPod(first.rssMiB, last.rssMiB),
      retainedHeapKiB: perPod(first.mainHeapUsedMiB, last.mainHeapUsedMiB),
      jsonKiB: last.pods > 0 ? Number((last.listBytes / last.pods / KiB).toFixed(2)) : null,
    },
    // What 200 more policies add at the largest size (each of them flags the attack pods).
    morePolicies: {
      policies: EXTRA_POLICIES,
      pods: last.pods,
      rssMiB: most.rssMiB - last.rssMiB,
      retainedHeapMiB: most.mainHeapUsedMiB - last.mainHeapUsedMiB,
    },
    coldStartOverList: last.pods > 0 ? Number((last.allJudgedMs / last.listMs).toFixed(2)) : null,
  };
  console.log(JSON.stringify(results, null, 2));
  return 0;
}

process.exitCode = await main();
