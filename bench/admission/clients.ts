// bench-admission's load, on its own thread: `clients` loops, each sending one pod CREATE after
// another for `durationMs`, paced (one every `intervalMs`) or back to back. Every pod is benign,
// so every one is admitted. Reports each round trip in milliseconds.
import { parentPort, workerData } from 'node:worker_threads';
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeConfig } from '../../test/integration/cluster.ts';

export interface ClientsInput {
  namespace: string;
  clients: number;
  durationMs: number;
  /** Each client starts a create this often (0: as soon as its last one returned). */
  intervalMs: number;
  /** Server dry runs: admitted, judged, never stored. */
  dryRun: boolean;
  /** Pod names start with this (unique per phase). */
  prefix: string;
}

export interface ClientsOutput {
  ms: number[];
  errors: number;
  firstError?: string;
}

const input = workerData as ClientsInput;
const api = new KubeClient(() => loadKubeConfig(), { maxSockets: input.clients });
const out: ClientsOutput = { ms: [], errors: 0 };
const end = performance.now() + input.durationMs;

function pod(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench' } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/team/app:1.4.2',
          command: ['/app', '--port=8080'],
          ports: [{ containerPort: 8080 }],
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
        },
      ],
      terminationGracePeriodSeconds: 0,
    },
  };
}

let n = 0;
await Promise.all(
  Array.from({ length: input.clients }, async (_, i) => {
    // Paced clients start spread over one interval, not all at once.
    if (input.intervalMs > 0)
      await new Promise((r) => setTimeout(r, (i * input.intervalMs) / input.clients));
    while (performance.now() < end) {
      const name = `${input.prefix}-${n++}`;
      const t = performance.now();
      const next = t + input.intervalMs;
      try {
        await api.request('POST', `/api/v1/namespaces/${input.namespace}/pods`, {
          body: pod(name),
          query: input.dryRun ? { dryRun: 'All' } : undefined,
        });
        out.ms.push(performance.now() - t);
      } catch (err) {
        out.errors++;
        out.firstError ??= String(err);
      }
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }),
);
parentPort?.postMessage(out);
