// docs/reliability.md: "a proxy in front of the API server injecting 429, 503, 401, resets and a silent
// blackhole". The operator runs as its ServiceAccount through test/integration/support/
// fault-proxy.ts, which forwards everything it does not fault to the real API server. In each
// case the operator must keep watching: a violating pod created during or after the fault is
// recorded exactly once, the process never exits, and /healthz ends at 200. The proxy's request
// log shows what the operator actually asked for (relist or resume, which credential).
import { expect } from 'chai';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  clusterDir,
  freshNamespace,
  loadKubeConfig,
  serviceAccountKubeconfig,
  waitFor,
} from '../cluster.ts';
import { FaultProxy, credentialOf, type Match } from '../support/fault-proxy.ts';
import {
  OperatorProcess,
  SERVICE_ACCOUNT,
  applyPolicy,
  operatorAccount,
  operatorTest,
} from './harness.ts';
import {
  BASELINE,
  PRIVILEGED,
  about,
  annotated,
  create,
  get,
  pod,
  sleep,
  violationEvents,
  waitForEvents,
  type PodJson,
  VIOLATIONS,
} from './objects.ts';

const POLICY_PATH = '/apis/deployguard.dev/v1alpha1/containerdeploymentpolicies';
const WATCHED = ['/api/v1/pods', '/api/v1/namespaces', '/api/v1/nodes', POLICY_PATH];
const pods: Match = (r) => r.path === '/api/v1/pods' && r.method === 'GET';
const podList: Match = (r) => pods(r) && !r.watch;
const podWatch: Match = (r) => pods(r) && r.watch;

interface Kubeconfig {
  clusters: { cluster: Record<string, string> }[];
  users: { user: { token: string } }[];
}

/** One operator behind its own proxy, in namespace `own`, judging the pods of `ns`. */
interface Setup {
  own: string;
  ns: string;
  op: OperatorProcess;
  proxy: FaultProxy;
  /** The kubeconfig the operator reads: the proxy's address and CA, the ServiceAccount's token. */
  kubeconfig: string;
  exited: () => boolean;
}

let current: Setup | undefined;
let proxy: FaultProxy | undefined;

/** Writes `sa` (a ServiceAccount kubeconfig) re-pointed at the proxy, atomically, to `path`. */
function writeThroughProxy(sa: string, p: FaultProxy, path: string): string {
  const kc = JSON.parse(readFileSync(sa, 'utf8')) as Kubeconfig;
  for (const c of kc.clusters) {
    c.cluster.server = p.url;
    c.cluster['certificate-authority-data'] = p.ca.toString('base64');
  }
  writeFileSync(`${path}.tmp`, JSON.stringify(kc), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return kc.users[0]?.user.token ?? '';
}

/**
 * Fresh namespaces, an Audit policy on `ns`, a proxy in front of the API server and the operator
 * started through it. `arm` runs before the operator starts, to fault its very first requests.
 */
async function setup(prefix: string, arm: (p: FaultProxy) => void = () => {}): Promise<Setup> {
  const own = await freshNamespace('dg-op');
  const ns = await freshNamespace(`dg-${prefix}`);
  await applyPolicy(own, `faults-${ns}`, {
    mode: 'Audit',
    match: { namespaces: [ns] },
    rules: { ...BASELINE },
  });
  const sa = await operatorAccount(own);
  const server = loadKubeConfig().getCurrentCluster()?.server ?? '';
  proxy = await FaultProxy.start(server, readFileSync(join(clusterDir, 'pki', 'ca.crt')));
  const kubeconfig = join(proxy.dir, 'operator.kubeconfig');
  writeThroughProxy(sa, proxy, kubeconfig);
  arm(proxy);
  const op = await OperatorProcess.start({
    namespace: own,
    kubeconfig,
    name: `operator-${prefix}`,
  });
  let exited = false;
  void op.exited.then(() => (exited = true));
  current = { own, ns, op, proxy, kubeconfig, exited: () => exited };
  return current;
}

async function healthz(op: OperatorProcess): Promise<number> {
  try {
    return (await fetch(`${op.probeUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).status;
  } catch {
    return 0;
  }
}

const restarts = (op: OperatorProcess, resource: string, reason: string): Promise<number> =>
  op.metric('deployguard_watch_restarts_total', { resource, reason });

/**
 * The pod is recorded, and exactly once: one PolicyViolation event and one write to it, still
 * so a moment later (a replayed or duplicated event would add a second).
 */
async function recordedOnce(s: Setup, name: string): Promise<void> {
  const p = await annotated(s.ns, name, 30_000);
  expect(p.metadata.annotations?.[VIOLATIONS]).to.contain('pss.privileged');
  await waitForEvents(s.ns, about(name, 'PolicyViolation'));
  await sleep(1500);
  expect(await violationEvents(s.ns, name), `PolicyViolation events of ${name}`).to.equal(1);
  expect(s.op.writes(`/namespaces/${s.ns}/pods/${name}`), `writes to ${name}`).to.have.length(1);
}

/** Throughout: the operator never exited, and it reports itself healthy at the end. */
async function stillHealthy(s: Setup): Promise<void> {
  expect(s.exited(), 'the operator exited').to.equal(false);
  await waitFor(`${s.op.name} /healthz 200`, async () => (await healthz(s.op)) === 200, 10_000);
}

describe('operator: API faults injected by a proxy', function () {
  this.timeout(120_000);

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && current) {
      const lines = current.op.logs.filter((l) => l.level !== 'debug').slice(-40);
      const reqs = current.proxy.requests
        .slice(-40)
        .map((r) => `${r.method} ${r.path} watch=${r.watch} -> ${r.status ?? '-'}`);
      console.error([...lines.map((l) => JSON.stringify(l)), ...reqs].join('\n'));
    }
    // The operator first (it would log errors about a vanished proxy), then the proxy.
    await current?.op.stop();
    await proxy?.close();
    current = undefined;
    proxy = undefined;
  });

  operatorTest(
    'honours 429 Retry-After and backs off on 503 for pod list and watch; records once',
    async () => {
      let listThrottled = { served: () => 0 };
      const s = await setup('throttle', (p) => {
        listThrottled = p.fail(429, podList, { retryAfterSeconds: 2 });
      });
      const lists = s.proxy.seen(podList);
      expect(listThrottled.served()).to.equal(1);
      expect(lists.map((r) => r.status)).to.deep.equal([429, 200]);
      // Backoff alone would retry after 0.8 to 1.6 s; the server asked for 2 s.
      expect((lists[1]?.at ?? 0) - (lists[0]?.at ?? 0)).to.be.at.least(1950);

      // End the pod watch as the server does at its timeout; the next two watches are refused.
      // A watch ended within 1 s with no event counts as a failure; this one must be a clean end.
      await waitFor('the pod watch open for a second', () => {
        const [first] = s.proxy.seen(podWatch);
        return first?.status === 200 && Date.now() - first.at > 1100;
      });
      const unavailable = s.proxy.fail(503, podWatch);
      const throttled = s.proxy.fail(429, podWatch);
      expect(s.proxy.closeStreams(podWatch)).to.equal(1);
      await waitFor('a 503 served', () => unavailable.served() === 1, 10_000, 20);
      // Created while the pod watch is down: only the resumed watch can bring it.
      await create(s.ns, pod('during', PRIVILEGED));
      await recordedOnce(s, 'during');
      expect(throttled.served()).to.equal(1);

      expect(await restarts(s.op, 'pods', 'throttled')).to.equal(2);
      expect(await restarts(s.op, 'pods', 'server_error')).to.equal(1);
      expect(await restarts(s.op, 'pods', 'closed')).to.equal(1);
      expect(await restarts(s.op, 'pods', 'network')).to.equal(0);
      // Every watch resumed from a resourceVersion; nothing was relisted.
      const watches = s.proxy.seen(podWatch);
      expect(watches.map((r) => r.status)).to.deep.equal([200, 503, 429, 200]);
      for (const w of watches) expect(w.query.resourceVersion).to.match(/^\d+$/);
      expect(s.proxy.seen(podList)).to.have.length(2);
      await stillHealthy(s);
    },
  );

  operatorTest(
    'resumes every watch from its last resourceVersion after all connections are reset',
    async () => {
      const s = await setup('reset');
      await create(s.ns, pod('before', PRIVILEGED));
      await annotated(s.ns, 'before', 30_000);
      // Its Event is sent without the reconcile waiting: let it land before the reset cuts it off.
      await waitForEvents(s.ns, about('before', 'PolicyViolation'));

      const since = Date.now();
      // Four watches (pods, namespaces, nodes, policies) at least, all broken at once.
      expect(s.proxy.reset()).to.be.at.least(4);
      await create(s.ns, pod('after', PRIVILEGED));
      await recordedOnce(s, 'after');

      const line = await s.op.waitForLog((l) => l.msg.startsWith('pods: rewatching'));
      expect(line.reason).to.equal('network');
      expect(s.op.logs.filter((l) => l.msg.includes('relisting'))).to.deep.equal([]);
      expect(
        s.proxy.seen((r) => r.method === 'GET' && !r.watch && WATCHED.includes(r.path), since),
      ).to.deep.equal([]);
      expect(line.resourceVersion).to.match(/^\d+$/);
      const rewatch = s.proxy.seen(podWatch, since);
      expect(rewatch[0]?.query.resourceVersion).to.equal(line.resourceVersion);
      expect(rewatch[0]?.status).to.equal(200);
      // The pod watch being back says nothing of the others: each resumes on its own backoff.
      for (const resource of ['pods', 'namespaces', 'nodes', 'policies'])
        await waitFor(
          `the ${resource} watch resumed once`,
          async () => (await restarts(s.op, resource, 'network')) >= 1,
          30_000,
        );
      for (const resource of ['pods', 'namespaces', 'nodes', 'policies'])
        expect(await restarts(s.op, resource, 'network'), resource).to.equal(1);
      // The pod recorded before the reset is not recorded again by the resumed watch.
      expect(await violationEvents(s.ns, 'before')).to.equal(1);
      expect(s.op.writes(`/namespaces/${s.ns}/pods/before`)).to.have.length(1);
      await stillHealthy(s);
    },
  );

  operatorTest(
    'reloads rotated credentials on 401 and keeps retrying through repeated 401s',
    async () => {
      const s = await setup('creds');
      const before = JSON.parse(readFileSync(s.kubeconfig, 'utf8')) as Kubeconfig;
      const oldCredential = credentialOf(before.users[0]?.user.token ?? '');
      // Rotate: a new token in the operator's kubeconfig, and the old one refused from now on.
      const newToken = writeThroughProxy(
        await serviceAccountKubeconfig(s.own, SERVICE_ACCOUNT),
        s.proxy,
        s.kubeconfig,
      );
      const newCredential = credentialOf(newToken);
      expect(newCredential).to.not.equal(oldCredential);
      const revoked = s.proxy.fail(401, (r) => r.credential === oldCredential, {
        count: Infinity,
      });
      const since = Date.now();
      s.proxy.reset();
      await create(s.ns, pod('rotated', PRIVILEGED));
      await recordedOnce(s, 'rotated');

      expect(revoked.served()).to.be.at.least(1);
      // Every watch came back, under the new token (each on its own backoff: wait for each).
      for (const path of WATCHED)
        await waitFor(
          `${path} watched again under the new token`,
          () =>
            s.proxy
              .seen((r) => r.path === path && r.watch && r.status === 200, since)
              .some((r) => r.credential === newCredential),
          30_000,
        );
      const patches = s.proxy.seen((r) => r.method === 'PATCH' && r.path.endsWith('/pods/rotated'));
      expect(patches.filter((r) => r.status === 200).map((r) => r.credential)).to.deep.equal([
        newCredential,
      ]);
      // The reload made the first retry succeed: no watch had to back off for it.
      expect(await restarts(s.op, 'pods', 'unauthorized')).to.equal(0);

      // 401s that a reload cannot cure (the file holds the same token): the watch retries
      // with backoff until they stop, never giving up.
      const refused = s.proxy.fail(401, podWatch, { count: 2 });
      expect(s.proxy.closeStreams(podWatch)).to.equal(1);
      await waitFor('two 401s served', () => refused.served() === 2, 10_000, 20);
      await create(s.ns, pod('refused', PRIVILEGED));
      await recordedOnce(s, 'refused');
      expect(await restarts(s.op, 'pods', 'unauthorized')).to.equal(1);
      await stillHealthy(s);
    },
  );

  operatorTest('delivers what a 5 s blackhole held back once it lifts, exactly once', async () => {
    const s = await setup('blackhole');
    await create(s.ns, pod('before', PRIVILEGED));
    await annotated(s.ns, 'before', 30_000);
    // Its Event is sent without the reconcile waiting: let it land before the blackhole holds it.
    await waitForEvents(s.ns, about('before', 'PolicyViolation'));

    s.proxy.blackhole();
    const started = Date.now();
    await create(s.ns, pod('dark', PRIVILEGED));
    // The API server has sent the pod's event; the proxy holds it, as a silent network would.
    await waitFor(
      'the pod event held',
      () => s.proxy.heldText().includes('"name":"dark"'),
      5000,
      20,
    );
    await sleep(Math.max(0, started + 5000 - Date.now()));
    const dark = await get<PodJson>('pod', 'dark', s.ns);
    expect(dark?.metadata.annotations?.[VIOLATIONS], 'recorded through a blackhole').to.equal(
      undefined,
    );
    expect(await healthz(s.op), 'a quiet watch is not an unhealthy one').to.equal(200);

    s.proxy.lift();
    await recordedOnce(s, 'dark');
    // Nothing broke: the watch just went quiet and went on.
    for (const reason of ['network', 'timeout', 'closed', 'server_error', 'gone'])
      expect(await restarts(s.op, 'pods', reason), reason).to.equal(0);
    expect(s.proxy.seen(podList)).to.have.length(1);
    expect(await violationEvents(s.ns, 'before')).to.equal(1);
    await stillHealthy(s);
  });
});
