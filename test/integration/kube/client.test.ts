// The HTTP client against the real API server, over TLS with keep-alive as the operator runs it.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { expect } from 'chai';
import { silentLog } from '../../../src/base/log.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { isForbidden, isNamespaceTerminating } from '../../../src/kube/errors.ts';
import {
  freshNamespace,
  kubectl,
  loadKubeConfig,
  serviceAccountKubeconfig,
  waitFor,
} from '../cluster.ts';

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

  // The operator's Events for a tenant's pods meet this whenever the tenant deletes its
  // namespace: expected, so not logged as a warning (report/events.ts).
  it('tells a namespace being deleted from any other 403', async () => {
    const ns = await freshNamespace('dg-terminating');
    await kubectl(['create', 'configmap', 'hold', '-n', ns]);
    // A finalizer keeps the namespace terminating until the test lets it go.
    const finalizers = (value: string[] | null) =>
      kubectl(
        [
          'patch',
          'configmap',
          'hold',
          '-n',
          ns,
          '--type=merge',
          '-p',
          JSON.stringify({ metadata: { finalizers: value } }),
        ],
        { allowFail: value === null },
      );
    await finalizers(['example.com/hold']);
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
    const api = new KubeClient(() => loadKubeConfig(), { log: silentLog });
    const event = (namespace: string) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `dg-test.${Date.now()}` },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'p', namespace },
      reason: 'Test',
      message: 'test',
      type: 'Normal',
    });
    try {
      // The namespace controller marks it Terminating a moment after the DELETE.
      const refused = await waitFor('the namespace to refuse new objects', async () => {
        const e = await api
          .request('POST', `/api/v1/namespaces/${ns}/events`, { body: event(ns) })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        return e ?? false;
      });
      expect(isForbidden(refused)).to.equal(true);
      expect(isNamespaceTerminating(refused)).to.equal(true);
      // A 403 of RBAC is not that: a ServiceAccount with no rights at all.
      const other = await freshNamespace('dg-nobody');
      await kubectl(['create', 'serviceaccount', 'nobody', '-n', other]);
      const path = await serviceAccountKubeconfig(other, 'nobody');
      const nobody = new KubeClient(() => loadKubeConfig(path), { log: silentLog });
      const denied = await nobody
        .request('POST', `/api/v1/namespaces/${other}/events`, { body: event(other) })
        .catch((err: unknown) => err);
      expect(isForbidden(denied)).to.equal(true);
      expect(isNamespaceTerminating(denied)).to.equal(false);
    } finally {
      await finalizers(null);
    }
  });
});
