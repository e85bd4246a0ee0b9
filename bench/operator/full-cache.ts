// What a cache of whole objects would hold, for bench-operator to set beside the operator's: it
// lists every pod in the cluster (500 a page, as a reflector's first list) and keeps each parsed
// object, as an informer that caches the full object does. Prints the main heap it retains after
// a full collection, and its RSS, against the same before the list. Run with --expose-gc.
import { KubeClient } from '../../src/kube/client.ts';
import { loadKubeConfig } from '../../test/integration/cluster.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
};
const api = new KubeClient(() => loadKubeConfig());
await settle();
const before = { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
const cache = new Map<string, unknown>();
let cont: string | undefined;
do {
  const page = await api.request<{
    items: { metadata: { namespace: string; name: string } }[];
    metadata: { continue?: string };
  }>('GET', '/api/v1/pods', { query: { limit: '500', ...(cont ? { continue: cont } : {}) } });
  for (const p of page.items) cache.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
  cont = page.metadata.continue || undefined;
} while (cont);
await settle();
const after = process.memoryUsage();
console.log(
  JSON.stringify({
    pods: cache.size,
    heapBytes: after.heapUsed - before.heap,
    rssBytes: after.rss - before.rss,
  }),
);
