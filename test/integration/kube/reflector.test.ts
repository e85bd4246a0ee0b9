// The reflector and client against the real API server: watch events as kubectl causes them, a
// store equal to a fresh LIST, re-watches on short server timeouts without lost or duplicate
// events, and real pagination with continue tokens.
import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { silentLog, type Log } from '../../../src/base/log.ts';
import type { KubeApi } from '../../../src/kube/api.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { isNotFound, isUnauthorized } from '../../../src/kube/errors.ts';
import { Reflector, type Change, type ReflectorOptions } from '../../../src/kube/reflector.ts';
import { Store } from '../../../src/kube/store.ts';
import { freshNamespace, kubectl, loadKubeConfig, waitFor } from '../cluster.ts';

interface Obj {
  key: string;
  rv: string;
  labels: Record<string, string>;
}

function trim(raw: unknown): Obj | undefined {
  const m = (raw as { metadata?: Record<string, unknown> }).metadata;
  if (!m) return undefined;
  return {
    key: `${String(m.namespace)}/${String(m.name)}`,
    rv: String(m.resourceVersion),
    labels: (m.labels as Record<string, string> | undefined) ?? {},
  };
}

function podManifest(namespace: string, name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0' }] },
  };
}

const quietLog: Log = {
  ...silentLog,
  error: (msg: string, meta?: object) => console.error(msg, meta),
  child: () => quietLog,
};

describe('kube: reflector on the real API server', function () {
  this.timeout(60_000);
  let reflector: Reflector<Obj> | undefined;
  afterEach(async () => {
    await reflector?.stop();
    reflector = undefined;
  });

  function run(
    api: KubeApi,
    listPath: string,
    over: Partial<ReflectorOptions<Obj>> = {},
  ): { store: Store<Obj>; changes: Change<Obj>[]; restarts: string[] } {
    const store = new Store<Obj>();
    const changes: Change<Obj>[] = [];
    const restarts: string[] = [];
    reflector = new Reflector<Obj>({
      resource: 'test',
      api,
      listPath,
      transform: trim,
      store,
      onChange: (c) => changes.push(c),
      log: quietLog,
      metrics: {
        watchEvent: () => undefined,
        watchRestart: (_r, reason) => restarts.push(reason),
        lastWatchEvent: () => undefined,
      },
      ...over,
    });
    reflector.start();
    return { store, changes, restarts };
  }

  async function storeMatchesList(ns: string, store: Store<Obj>): Promise<void> {
    await waitFor(
      'the store to equal a fresh LIST',
      async () => {
        const pods = JSON.parse(
          (await kubectl(['get', 'pods', '-o', 'json'], { namespace: ns })).stdout,
        ).items as unknown[];
        const want = Object.fromEntries(pods.map((p) => [trim(p)?.key, trim(p)?.rv]));
        const got = Object.fromEntries([...store.values()].map((o) => [o.key, o.rv]));
        return (
          JSON.stringify(Object.entries(want).sort()) === JSON.stringify(Object.entries(got).sort())
        );
      },
      15_000,
    );
  }

  it('sees pods added, labelled and deleted with kubectl; the store equals a fresh LIST', async () => {
    const ns = await freshNamespace('dg-reflector');
    const api = new KubeClient(() => loadKubeConfig());
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(podManifest(ns, 'before')) });
    const { store, changes } = run(api, `/api/v1/namespaces/${ns}/pods`);
    await waitFor('initial list', () => reflector?.hasSynced());
    // Only the list's changes: kwok may already be updating the pod's status over the watch.
    expect(changes.filter((c) => c.fromList).map((c) => [c.type, c.key])).to.deep.equal([
      ['added', `${ns}/before`],
    ]);

    await kubectl(['create', '-f', '-'], { input: JSON.stringify(podManifest(ns, 'p1')) });
    await waitFor('ADDED p1', () =>
      changes.find((c) => c.type === 'added' && c.key === `${ns}/p1` && !c.fromList),
    );
    await kubectl(['label', 'pod', 'p1', 'touched=yes'], { namespace: ns });
    const updated = await waitFor('MODIFIED p1 with the label', () =>
      changes.find((c) => c.type === 'updated' && c.object.labels.touched === 'yes'),
    );
    expect(updated.old?.labels.touched).to.equal(undefined);
    await kubectl(['delete', 'pod', 'p1', '--wait=false'], { namespace: ns });
    const deleted = await waitFor('DELETED p1', () =>
      changes.find((c) => c.type === 'deleted' && c.key === `${ns}/p1`),
    );
    expect(deleted.fromList).to.equal(false);
    expect(deleted.object.labels.touched).to.equal('yes');
    expect(store.has(`${ns}/p1`)).to.equal(false);
    await storeMatchesList(ns, store);
    expect(reflector?.healthy()).to.equal(true);
    expect(Number(reflector?.lastResourceVersion())).to.be.greaterThan(0);
  });

  it('re-watches through 1-2 s server timeouts with no lost or duplicate events', async () => {
    const ns = await freshNamespace('dg-rewatch');
    const api = new KubeClient(() => loadKubeConfig());
    const { store, changes, restarts } = run(api, `/api/v1/namespaces/${ns}/pods`, {
      watchTimeoutSeconds: [1, 2],
    });
    await waitFor('initial list', () => reflector?.hasSynced());
    const names: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const pods = [0, 1, 2, 3].map((i) => podManifest(ns, `p-${batch}-${i}`));
      names.push(...pods.map((p) => p.metadata.name));
      await kubectl(['create', '-f', '-'], {
        input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }),
      });
      await new Promise((r) => setTimeout(r, 700));
    }
    await waitFor('20 pods in the store', () => store.size === 20);
    await storeMatchesList(ns, store);
    const watched = changes.filter((c) => !c.fromList);
    for (const name of names) {
      const added = watched.filter((c) => c.type === 'added' && c.key === `${ns}/${name}`);
      expect(added, name).to.have.length(1);
    }
    // A replayed event would show up as a second change with the same resourceVersion.
    const seen = new Set<string>();
    for (const c of watched) {
      const id = `${c.key}@${c.object.rv}`;
      expect(seen.has(id), `duplicate ${id}`).to.equal(false);
      seen.add(id);
    }
    expect(changes.filter((c) => c.fromList)).to.deep.equal([]);
    expect(restarts.filter((r) => r === 'closed').length).to.be.at.least(2);
    expect(restarts.filter((r) => r !== 'closed')).to.deep.equal([]);
  });

  it('lists 7 configmaps in pages of 2 with continue tokens', async () => {
    const ns = await freshNamespace('dg-pages');
    const items = Array.from({ length: 7 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `cm-${i}`, namespace: ns, labels: { 'dg-page': 'yes' } },
      data: { i: String(i) },
    }));
    await kubectl(['create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }),
    });
    const client = new KubeClient(() => loadKubeConfig());
    const queries: Record<string, unknown>[] = [];
    const counting: KubeApi = {
      request: (verb, path, opts) => {
        queries.push({ ...opts?.query });
        return client.request(verb, path, opts);
      },
      watch: (path, query, onEvent, opts) => client.watch(path, query, onEvent, opts),
    };
    const { store } = run(counting, `/api/v1/namespaces/${ns}/configmaps`, {
      pageSize: 2,
      query: { labelSelector: 'dg-page=yes' },
    });
    await waitFor('initial list', () => reflector?.hasSynced());
    expect(store.size).to.equal(7);
    expect(queries).to.have.length(4);
    expect(queries.slice(1).every((q) => typeof q.continue === 'string' && q.limit === 2)).to.equal(
      true,
    );
    expect(queries.every((q) => q.labelSelector === 'dg-page=yes')).to.equal(true);
  });

  it('client: a missing object is an ApiError NotFound with the Status reason', async () => {
    const client = new KubeClient(() => loadKubeConfig());
    const err = await client
      .request('GET', '/api/v1/namespaces/dg-does-not-exist')
      .catch((e: unknown) => e);
    expect(isNotFound(err)).to.equal(true);
    expect((err as { reason: string }).reason).to.equal('NotFound');
    const ns = await client.request<{ metadata: { name: string } }>(
      'GET',
      '/api/v1/namespaces/default',
    );
    expect(ns.metadata.name).to.equal('default');
  });
  it('client: a 401 reloads the kubeconfig and retries once', async () => {
    const admin = loadKubeConfig();
    const cluster = admin.getCurrentCluster();
    if (!cluster) throw new Error('no cluster');
    const stale = new KubeConfig();
    stale.loadFromOptions({
      clusters: [
        { name: 'c', server: cluster.server, caFile: cluster.caFile, caData: cluster.caData },
      ],
      users: [{ name: 'u', token: 'not-a-valid-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: 'team-a' }],
      currentContext: 'x',
    });
    let loads = 0;
    const client = new KubeClient(() => (loads++ === 0 ? stale : loadKubeConfig()));
    expect(client.currentNamespace()).to.equal('team-a');
    const ns = await client.request<{ metadata: { name: string } }>(
      'GET',
      '/api/v1/namespaces/default',
    );
    expect(ns.metadata.name).to.equal('default');
    expect(loads).to.equal(2);
    // Still stale credentials after the reload: the 401 reaches the caller.
    const never = new KubeClient(() => stale);
    const err = await never.request('GET', '/api/v1/namespaces/default').catch((e: unknown) => e);
    expect(isUnauthorized(err)).to.equal(true);
  });
});
