// The HTTP client against the real API server, over TLS with keep-alive as the operator runs it.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { expect } from 'chai';
import { silentLog } from '../../../src/base/log.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { freshNamespace, kubectl, loadKubeConfig } from '../cluster.ts';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
/**
 * Collected, and the buffers freed: V8 releases ArrayBuffer memory on background threads after a
 * collection, so one gc() can leave freed buffers counted for a while.
 */
async function gc(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    collect();
    await new Promise((r) => setTimeout(r, 50));
  }
}
const MiB = 1024 * 1024;

describe('kube: the HTTP client on the real API server', function () {
  // Node keeps the request that opened a pooled TLS connection reachable for as long as the
  // socket lives (through its TLS session listener). Every closure of that request was then kept
  // too, and with them its whole response: one body per pooled connection, never freed.
  it('keeps no response body once read, though each pooled TLS connection lives on', async () => {
    const ns = await freshNamespace('dg-client');
    const blob = 'x'.repeat(200 * 1024);
    const items = Array.from({ length: 10 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `big-${i}`, namespace: ns, labels: { big: 'yes' } },
      data: { blob },
    }));
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    });
    const api = new KubeClient(() => loadKubeConfig(), { log: silentLog });
    const list = () =>
      api.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/configmaps`, {
        query: { labelSelector: 'big=yes' },
      });
    // One connection first, so the TLS setup and the agent exist before the baseline.
    expect((await list()).items).to.have.length(10);
    await gc();
    const before = process.memoryUsage();
    // 24 at once: 24 pooled connections, each first used by a 2 MB response.
    const lists = await Promise.all(Array.from({ length: 24 }, list));
    expect(lists.every((l) => l.items.length === 10)).to.equal(true);
    lists.length = 0;
    await gc();
    const after = process.memoryUsage();
    const kept = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    // The bodies were 24 x 2 MB of buffers (and as much text, which Node keeps outside the V8
    // heap at that size); kept, the buffers show here many times over the bound.
    expect(kept / MiB, `MiB kept after 24 concurrent 2 MB LISTs`).to.be.below(16);
  });

  // One connection per request in flight, unbounded, was 134 TLS sockets after a cold start.
  it('opens at most maxSockets connections for requests, and a watch never waits behind them', async () => {
    const ns = await freshNamespace('dg-client');
    // Sockets in use (idle pooled ones are unreferenced, and not listed).
    const sockets = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    const api = new KubeClient(() => loadKubeConfig(), { log: silentLog, maxSockets: 2 });
    const watching = new AbortController();
    let sawPod = false;
    const watch = api.watch(`/api/v1/namespaces/${ns}/pods`, {}, () => (sawPod = true), {
      signal: watching.signal,
      inactivityMs: 60_000,
    });
    watch.catch(() => undefined);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, sockets() - before)), 2);
    // 24 LISTs at once, and a create that the watch must show while they are under way.
    const lists = Array.from({ length: 24 }, () =>
      api.request('GET', '/api/v1/configmaps', { query: { limit: '500' } }),
    );
    const created = kubectl([
      'run',
      'p',
      '-n',
      ns,
      '--image=registry.example.com/app:1.0',
      '--restart=Never',
    ]);
    await Promise.all(lists);
    clearInterval(sampler);
    await created;
    for (let i = 0; i < 50 && !sawPod; i++) await new Promise((r) => setTimeout(r, 100));
    watching.abort();
    expect(sawPod).to.equal(true);
    // Two for the requests and one for the watch (kubectl is another process).
    expect(peak).to.be.within(2, 3);
  });
});
