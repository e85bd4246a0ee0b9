// bench-operator's load, on its own thread so that building and sending requests never delays
// the PATCH prober in run.ts. Open loop: pod i is sent at start + i / rate whether or not earlier
// creates have answered, as an attacker's script would. Every `1 / violatingShare`-th pod is
// privileged (the policy flags it); the others are clean. Reports, per pod, when its CREATE
// returned (shared wall clock) and how late the schedule ran.
import { parentPort, workerData } from 'node:worker_threads';
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeConfig } from '../../test/integration/cluster.ts';

export interface CreatorInput {
  namespace: string;
  rate: number;
  durationMs: number;
  violatingShare: number;
}

export interface CreatorOutput {
  /** Pod name -> when its CREATE returned; `violating` names the privileged ones. */
  created: Record<string, number>;
  violating: string[];
  errors: number;
  firstError?: string;
  /** The worst delay between a create's slot and its send (ms): the load generator's own lag. */
  maxLagMs: number;
}

const input = workerData as CreatorInput;
const api = new KubeClient(() => loadKubeConfig());
const now = (): number => performance.timeOrigin + performance.now();
const total = Math.round((input.rate * input.durationMs) / 1000);
const out: CreatorOutput = { created: {}, violating: [], errors: 0, maxLagMs: 0 };

function pod(name: string, privileged: boolean): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'bench' } },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/team/app:1.4.2',
          args: ['--port=8080'],
          ports: [{ containerPort: 8080 }],
          resources: { requests: { cpu: '10m', memory: '16Mi' } },
          ...(privileged ? { securityContext: { privileged: true } } : {}),
        },
      ],
      terminationGracePeriodSeconds: 0,
    },
  };
}

const sends: Promise<void>[] = [];
const start = now();
for (let i = 0; i < total; i++) {
  const slot = start + (i * 1000) / input.rate;
  const wait = slot - now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  out.maxLagMs = Math.max(out.maxLagMs, now() - slot);
  const name = `p-${i}`;
  const privileged =
    Math.floor((i + 1) * input.violatingShare) > Math.floor(i * input.violatingShare);
  if (privileged) out.violating.push(name);
  sends.push(
    api
      .request('POST', `/api/v1/namespaces/${input.namespace}/pods`, {
        body: pod(name, privileged),
      })
      .then(
        () => {
          out.created[name] = now();
        },
        (err: unknown) => {
          out.errors++;
          out.firstError ??= String(err);
        },
      ),
  );
}
await Promise.all(sends);
parentPort?.postMessage(out);
