import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { silentLog } from '../../../../src/base/log.ts';
import fc from 'fast-check';
import type { ObjectRef } from '../../../../src/base/object-ref.ts';
import type { NamespaceInfo } from '../../../../src/controllers/pod/cached-namespace.ts';
import { cachedPod, type CachedPod } from '../../../../src/controllers/pod/cached-pod.ts';
import { policyObject } from '../../../../src/controllers/policy/cached-policy.ts';
import type { OwnerReference } from '../../../../src/engine/pod.ts';
import type { WorkloadResolver } from '../../../../src/remediation/remediator.ts';
import { TerminalError, type ReconcileContext } from '../../../../src/runtime/reconcile.ts';
import { FakeClock } from '../../../support/fake-clock.ts';
import { LeaderGate, NotLeaderError } from '../../../../src/runtime/leader-gate.ts';
import { PodReconciler } from '../../../../src/controllers/pod/reconciler.ts';
import { PolicyRegistry } from '../../../../src/controllers/policy/registry.ts';
import { ViolatingPods } from '../../../../src/controllers/pod/violating-pods.ts';
import { Store } from '../../../../src/kube/store.ts';
import { createLogger } from '../../../../src/observability/logger.ts';
import { createMetrics } from '../../../../src/observability/metrics.ts';
import type { NodeInfo } from '../../../../src/remediation/action.ts';
import { Guards } from '../../../../src/remediation/guards.ts';
import type { EventSpec } from '../../../../src/report/events.ts';
import { PolicyStatusBook } from '../../../../src/report/policy-status.ts';
import { podJson, policyJson, type Json } from '../../builders.ts';
import { FakeKubeApi, apiError, type Handler } from '../../../support/fake-kube-api.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
/** What the worker runner hands each reconcile. */
const CTX: ReconcileContext = { id: 'test', log: silentLog };
const STAMP = '2026-11-29T10:00:00Z';
const VIOLATIONS = 'deployguard.dev/violations';
const DETECTED_AT = 'deployguard.dev/detected-at';
const VIOLATING = 'deployguard.dev/violating';
const RECORDED_UID = 'deployguard.dev/recorded-uid';
const RECORD = '[{"policy":"p1","rule":"hostPath.sensitive","severity":"critical"}]';
const HOST_ESCAPE = { hostPaths: { denySensitive: true } };
const LABEL = { type: 'Label', labels: { quarantine: 'true' } };
const DELETE = { type: 'DeletePod', gracePeriodSeconds: 0 };
const RS = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'web-6d4f',
  uid: 'rs-1',
  controller: true,
};

const podPath = (name: string, ns = 'team-a') => `/api/v1/namespaces/${ns}/pods/${name}`;

/** A pod escaping to the host (hostPath /): hostPath.sensitive, critical. */
function escapePod(name = 'web-1', meta: Json = {}, spec: Json = {}): Json {
  return podJson(
    { volumes: [{ name: 'root', hostPath: { path: '/' } }], nodeName: 'n1', ...spec },
    {
      name,
      namespace: 'team-a',
      uid: `uid-${name}`,
      creationTimestamp: '2026-11-29T09:00:00Z',
      ...meta,
    },
  );
}

interface Options {
  dryRun?: boolean;
  ownsAllPolicies?: boolean;
  ownNamespace?: string;
  handler?: Handler;
}

function setup(opts: Options = {}) {
  const clock = new FakeClock({ start: T0 });
  // The cluster holds the ReplicaSet RS in team-a: owner claims naming it are true.
  const api = new FakeKubeApi((req) => {
    if (req.verb === 'GET' && req.path === `/apis/apps/v1/namespaces/team-a/replicasets/${RS.name}`)
      return { metadata: { name: RS.name, uid: RS.uid } };
    if (
      req.verb === 'GET' &&
      /\/(replicasets|daemonsets|statefulsets|jobs|replicationcontrollers)\//.test(req.path)
    )
      throw apiError(404, 'NotFound', req);
    return opts.handler?.(req);
  });
  const pods = new Store<CachedPod>();
  const namespaces = new Store<NamespaceInfo>();
  const nodes = new Store<NodeInfo>();
  const policies = new PolicyRegistry();
  const violating = new ViolatingPods();
  const guards = new Guards({ dryRun: opts.dryRun ?? false, ownNamespace: opts.ownNamespace });
  const events: EventSpec[] = [];
  const status = new PolicyStatusBook({ api, clock });
  const resolved: OwnerReference[] = [];
  const owners: WorkloadResolver = {
    workload: async (_ns, owner): Promise<ObjectRef> => {
      resolved.push(owner);
      return owner.kind === 'ReplicaSet'
        ? { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-1' }
        : owner;
    },
  };
  const metrics = createMetrics({ version: 'test', collectDefault: false });
  const log = createLogger({ level: 'error', format: 'json', stream: new PassThrough() });
  const raws = new Map<string, Json>();
  nodes.set('n1', {
    name: 'n1',
    uid: 'node-1',
    unschedulable: false,
    controlPlane: false,
    labels: {},
  });
  namespaces.set('team-a', { name: 'team-a', labels: {} });
  const deps = {
    api,
    pods,
    namespaces,
    nodes,
    policies,
    violating,
    guards,
    events: { emit: async (e: EventSpec) => void events.push(e) },
    status,
    owners,
    metrics,
    log,
    dryRun: opts.dryRun ?? false,
    ownsAllPolicies: opts.ownsAllPolicies ?? true,
    clock,
  };
  const make = () => new PodReconciler(deps);
  let reflected = 0;
  const env = {
    deps,
    api,
    pods,
    nodes,
    namespaces,
    policies,
    violating,
    guards,
    events,
    status,
    resolved,
    metrics,
    reconciler: make(),
    /** A new reconciler over the same caches: an operator restart. */
    restart() {
      env.reconciler = make();
    },
    advance(ms: number) {
      clock.t += ms;
    },
    now: () => clock.t,
    policy(spec: Json, name = 'p1', generation = 1) {
      const raw = policyJson(spec, name);
      raw.metadata = { name, uid: `uid-${name}`, generation };
      const obj = policyObject(raw);
      if (!obj) throw new Error('bad policy');
      const { entry } = policies.upsert(obj);
      status.observe(name, generation, {}, entry.readiness);
      if (!entry.result.ok) throw new Error(entry.readiness.message);
    },
    addPod(raw: Json): string {
      const meta = raw.metadata as Json;
      const key = `${String(meta.namespace)}/${String(meta.name)}`;
      raws.set(key, structuredClone(raw));
      const c = cachedPod(raw);
      if (!c) throw new Error('not a pod');
      pods.set(key, c);
      return key;
    },
    /** The watch brings our PATCHes back into the cache. */
    reflect() {
      for (const r of api.requests.slice(reflected)) {
        const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(r.path);
        if (r.verb !== 'PATCH' || !m) continue;
        const key = `${decodeURIComponent(m[1] ?? '')}/${decodeURIComponent(m[2] ?? '')}`;
        const raw = raws.get(key);
        if (!raw) continue;
        const meta = raw.metadata as Json;
        const patch = (r.body as { metadata: Json }).metadata;
        for (const field of ['labels', 'annotations'] as const) {
          const cur = { ...((meta[field] as Record<string, string>) ?? {}) };
          for (const [k, v] of Object.entries((patch[field] as Json) ?? {})) {
            if (v === null) delete cur[k];
            else cur[k] = v as string;
          }
          meta[field] = cur;
        }
        const c = cachedPod(raw);
        if (c) pods.set(key, c);
      }
      reflected = api.requests.length;
    },
    writes() {
      return api.writes();
    },
    async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
      const m = metrics.registry.getSingleMetric(name);
      if (!m) throw new Error(`no metric ${name}`);
      const data = await m.get();
      // Histograms list buckets, sum and count: read the count.
      const values = data.values as { labels: Json; value: number; metricName?: string }[];
      return values
        .filter(
          (v) =>
            (v.metricName === undefined ||
              v.metricName === name ||
              v.metricName === `${name}_count`) &&
            Object.entries(labels).every(([k, val]) => v.labels[k] === val),
        )
        .reduce((n, v) => n + v.value, 0);
    },
  };
  return env;
}

type Env = ReturnType<typeof setup>;
const actions = (env: Env, labels: Record<string, string>) =>
  env.metric('deployguard_actions_total', labels);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('PodReconciler: Audit', () => {
  it('records a violating pod with exactly one PATCH, one event and one count', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod());
    expect(await env.reconciler.reconcile(key, CTX)).to.equal(undefined);
    expect(env.api.requests).to.deep.equal([
      {
        verb: 'PATCH',
        path: podPath('web-1'),
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            uid: 'uid-web-1',
            annotations: {
              [VIOLATIONS]: RECORD,
              [DETECTED_AT]: STAMP,
              [RECORDED_UID]: 'uid-web-1',
            },
            labels: { [VIOLATING]: 'true' },
          },
        },
      },
    ]);
    expect(env.events).to.have.length(1);
    const [e] = env.events;
    expect(e).to.deep.include({ type: 'Warning', reason: 'PolicyViolation' });
    expect(e?.target).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'web-1',
      namespace: 'team-a',
      uid: 'uid-web-1',
    });
    expect(e?.message).to.contain('violates policy p1: hostPath.sensitive (critical)');
    expect(
      await env.metric('deployguard_violations_total', {
        policy: 'p1',
        rule: 'hostPath.sensitive',
        severity: 'critical',
        namespace: 'team-a',
      }),
    ).to.equal(1);
    expect(await env.metric('deployguard_pods_evaluated_total')).to.equal(1);
    expect(env.violating.count('p1')).to.equal(1);
    expect(env.status.totals('p1')?.totalViolations).to.equal(1);
  });

  it('reconciling again once the PATCH is in the cache writes and announces nothing', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod());
    await env.reconciler.reconcile(key, CTX);
    env.reflect();
    env.advance(5000);
    await env.reconciler.reconcile(key, CTX);
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests).to.have.length(1);
    expect(env.events).to.have.length(1);
    expect(await env.metric('deployguard_violations_total')).to.equal(1);
    // Nor after a restart: the annotation is the memory.
    env.restart();
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests).to.have.length(1);
    expect(env.events).to.have.length(1);
    expect(await env.metric('deployguard_violations_total')).to.equal(1);
    expect(env.status.totals('p1')?.totalViolations).to.equal(1);
  });

  it('events still in flight (the cache behind our own write) cause no second write', async () => {
    const env = setup({
      handler: (r) => (r.verb === 'PATCH' ? { metadata: { resourceVersion: '100' } } : {}),
    });
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod('web-1', { resourceVersion: '50' }));
    await env.reconciler.reconcile(key, CTX);
    // A status update from before our PATCH arrives: still no annotation, older resourceVersion.
    env.addPod(escapePod('web-1', { resourceVersion: '60' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.writes()).to.have.length(1);
    // Someone strips the record later (newer resourceVersion): it is written again.
    env.addPod(escapePod('web-1', { resourceVersion: '150' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.writes()).to.have.length(2);
  });

  it("keeps another shard's entries when it loads only some policies, drops them when it owns all", async () => {
    const foreign = '{"policy":"other-shard","rule":"image.registry","severity":"medium"}';
    const mine = '{"policy":"p1","rule":"hostPath.sensitive","severity":"critical"}';
    const annotated = {
      annotations: {
        [VIOLATIONS]: `[${foreign}]`,
        [DETECTED_AT]: STAMP,
        [RECORDED_UID]: 'uid-web-1',
      },
    };
    const shard = setup({ ownsAllPolicies: false });
    shard.policy({ rules: HOST_ESCAPE });
    await shard.reconciler.reconcile(shard.addPod(escapePod('web-1', annotated)), CTX);
    const body = shard.api.writes()[0]?.body as { metadata: { annotations: Json } };
    expect(body.metadata.annotations[VIOLATIONS]).to.equal(`[${foreign},${mine}]`);
    // The other shard's policy was deleted (GET says 404): its entries go too.
    const gone = setup({
      ownsAllPolicies: false,
      handler: (r) => {
        if (r.verb === 'GET') throw apiError(404, 'NotFound');
        return {};
      },
    });
    gone.policy({ rules: HOST_ESCAPE });
    await gone.reconciler.reconcile(gone.addPod(escapePod('web-1', annotated)), CTX);
    const body3 = gone.api.writes()[0]?.body as { metadata: { annotations: Json } };
    expect(body3.metadata.annotations[VIOLATIONS]).to.equal(`[${mine}]`);
    expect(gone.api.calls()[0]).to.equal(
      'GET /apis/deployguard.dev/v1alpha1/containerdeploymentpolicies/other-shard',
    );
    const all = setup();
    all.policy({ rules: HOST_ESCAPE });
    await all.reconciler.reconcile(all.addPod(escapePod('web-1', annotated)), CTX);
    const body2 = all.api.writes()[0]?.body as { metadata: { annotations: Json } };
    expect(body2.metadata.annotations[VIOLATIONS]).to.equal(`[${mine}]`);
  });

  it('a benign pod: no writes, no events', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(podJson({}, { name: 'ok', namespace: 'team-a', uid: 'u' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events).to.deep.equal([]);
    expect(await env.metric('deployguard_pods_evaluated_total')).to.equal(1);
  });

  it('an unknown key with no last state does nothing', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    expect(await env.reconciler.reconcile('team-a/nope', CTX)).to.equal(undefined);
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events).to.deep.equal([]);
  });

  it('a pod that stops violating gets annotation, detected-at and label removed (null)', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod());
    await env.reconciler.reconcile(key, CTX);
    env.reflect();
    env.policies.remove('p1');
    env.api.clear();
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests).to.deep.equal([
      {
        verb: 'PATCH',
        path: podPath('web-1'),
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            uid: 'uid-web-1',
            annotations: { [VIOLATIONS]: null, [DETECTED_AT]: null, [RECORDED_UID]: null },
            labels: { [VIOLATING]: null },
          },
        },
      },
    ]);
    expect(env.violating.get(key)).to.equal(undefined);
    expect(env.events).to.have.length(1);
  });

  it('a pod deleted before its reconcile: the violation is still announced and counted, no writes', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const last = cachedPod(escapePod('attacker'));
    const key = 'team-a/attacker';
    env.reconciler.observed(key, env.now(), undefined);
    env.advance(20);
    env.reconciler.observed(key, env.now(), last);
    env.advance(30);
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events).to.have.length(1);
    expect(env.events[0]).to.deep.include({ reason: 'PolicyViolation', type: 'Warning' });
    expect(env.events[0]?.message).to.contain('[pod already deleted]');
    expect(
      await env.metric('deployguard_violations_total', { rule: 'hostPath.sensitive' }),
    ).to.equal(1);
    expect(env.status.totals('p1')?.totalViolations).to.equal(1);
    // Once only.
    await env.reconciler.reconcile(key, CTX);
    expect(env.events).to.have.length(1);
  });

  it('a recorded pod that is then deleted is not announced again', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod());
    await env.reconciler.reconcile(key, CTX);
    env.reflect();
    env.reconciler.observed(key, env.now(), env.pods.get(key));
    env.pods.delete(key);
    await env.reconciler.reconcile(key, CTX);
    expect(env.events).to.have.length(1);
    expect(env.api.requests).to.have.length(1);
    expect(env.violating.get(key)).to.equal(undefined);
    expect(await env.metric('deployguard_violations_total')).to.equal(1);
  });

  it('a pod deleted before its reconcile still observes the detection latency', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = 'team-a/attacker';
    env.reconciler.observed(key, env.now(), cachedPod(escapePod('attacker')));
    env.advance(50);
    await env.reconciler.reconcile(key, CTX);
    expect(await env.metric('deployguard_detection_latency_seconds')).to.equal(1);
  });

  it('observes the detection latency of a live pod once', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod());
    env.reconciler.observed(key, env.now());
    env.advance(40);
    await env.reconciler.reconcile(key, CTX);
    env.reflect();
    await env.reconciler.reconcile(key, CTX);
    expect(await env.metric('deployguard_detection_latency_seconds')).to.equal(1);
  });

  it('waits (requeue) for the namespace when a policy selects namespaces by label', async () => {
    const env = setup();
    env.policy({
      rules: HOST_ESCAPE,
      match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
    });
    const key = env.addPod(
      escapePod('new', { namespace: 'fresh', creationTimestamp: '2026-11-29T09:59:59Z' }),
    );
    expect(await env.reconciler.reconcile(key, CTX)).to.deep.equal({ requeueAfterMs: 500 });
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events).to.deep.equal([]);
  });

  it('a tampered annotation is rewritten, without announcing the violation again', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(
      escapePod('web-1', {
        annotations: {
          [VIOLATIONS]: RECORD,
          [DETECTED_AT]: '2026-11-01T00:00:00Z',
          [RECORDED_UID]: 'uid-web-1',
        },
        labels: { [VIOLATING]: 'false' },
      }),
    );
    await env.reconciler.reconcile(key, CTX);
    expect(env.events).to.deep.equal([]);
    expect(env.api.requests).to.have.length(1);
    expect(env.api.requests[0]?.body).to.deep.equal({
      metadata: {
        uid: 'uid-web-1',
        annotations: {
          [VIOLATIONS]: RECORD,
          [DETECTED_AT]: '2026-11-01T00:00:00Z',
          [RECORDED_UID]: 'uid-web-1',
        },
        labels: { [VIOLATING]: 'true' },
      },
    });
  });

  it('a pod that arrives already marked (a forged record, bound to no UID) is announced anyway', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    for (const forged of [{}, { [RECORDED_UID]: 'someone-else' }]) {
      env.api.clear();
      env.events.length = 0;
      const name = `forged-${Object.keys(forged).length}`;
      const key = env.addPod(
        escapePod(name, {
          annotations: {
            [VIOLATIONS]: RECORD,
            [DETECTED_AT]: '2020-01-01T00:00:00Z',
            ...forged,
          },
          labels: { [VIOLATING]: 'true' },
        }),
      );
      await env.reconciler.reconcile(key, CTX);
      expect(
        env.events.map((e) => e.reason),
        name,
      ).to.deep.equal(['PolicyViolation']);
      const body = env.api.writes()[0]?.body as { metadata: { annotations: Json } };
      expect(body.metadata.annotations, name).to.deep.equal({
        [VIOLATIONS]: RECORD,
        [DETECTED_AT]: STAMP,
        [RECORDED_UID]: `uid-${name}`,
      });
    }
  });
});

describe('PodReconciler: Enforce', () => {
  const ENFORCE = { mode: 'Enforce', rules: HOST_ESCAPE, actions: [LABEL, DELETE] };

  it('a label stripped after we set it is put back; replays of older states write nothing', async () => {
    let rv = 100;
    const env = setup({
      handler: (r) => (r.verb === 'PATCH' ? { metadata: { resourceVersion: String(++rv) } } : {}),
    });
    env.policy({ mode: 'Enforce', rules: HOST_ESCAPE, actions: [LABEL] });
    const key = env.addPod(escapePod('web-1', { resourceVersion: '100' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.writes()).to.have.length(2); // record + label
    // An older state still in flight: nothing again.
    env.addPod(escapePod('web-1', { resourceVersion: '100' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.writes()).to.have.length(2);
    // Later, someone removes the quarantine label (a newer state without it): it comes back.
    env.addPod(
      escapePod('web-1', {
        resourceVersion: '200',
        annotations: { [VIOLATIONS]: RECORD, [DETECTED_AT]: STAMP, [RECORDED_UID]: 'uid-web-1' },
        labels: { [VIOLATING]: 'true' },
      }),
    );
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls().slice(2)).to.deep.equal([`PATCH ${podPath('web-1')}`]);
    expect(await env.metric('deployguard_actions_total', { outcome: 'success' })).to.equal(2);
  });

  it('a violating pod deleted and recreated clean under its name before its reconcile is still announced', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod('web-1', { uid: 'old' }));
    env.reconciler.observed(key, env.now(), env.pods.get(key));
    env.addPod(podJson({}, { name: 'web-1', namespace: 'team-a', uid: 'new' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.events.map((e) => [e.reason, e.target.uid])).to.deep.equal([
      ['PolicyViolation', 'old'],
    ]);
    expect(env.api.writes()).to.deep.equal([]);
  });

  it('Label then DeletePod: record PATCH, label PATCH, DELETE; success counted', async () => {
    const env = setup();
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    expect(await env.reconciler.reconcile(key, CTX)).to.equal(undefined);
    expect(env.api.calls()).to.deep.equal([
      `PATCH ${podPath('web-1')}`,
      `PATCH ${podPath('web-1')}`,
      `DELETE ${podPath('web-1')}`,
    ]);
    expect(env.api.requests[1]?.body).to.deep.equal({
      metadata: { uid: 'uid-web-1', labels: { quarantine: 'true' } },
    });
    expect(env.api.requests[2]?.body).to.deep.equal({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: 'uid-web-1' },
      gracePeriodSeconds: 0,
    });
    expect(env.events.map((e) => e.reason)).to.deep.equal([
      'PolicyViolation',
      'PodLabeled',
      'PodDeleted',
    ]);
    expect(await actions(env, { policy: 'p1', action: 'Label', outcome: 'success' })).to.equal(1);
    expect(await actions(env, { policy: 'p1', action: 'DeletePod', outcome: 'success' })).to.equal(
      1,
    );
    expect(env.status.totals('p1')?.actions).to.deep.include({ Label: 1, DeletePod: 1 });
  });

  it('a replay after success does not act again', async () => {
    const env = setup();
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    await env.reconciler.reconcile(key, CTX);
    const before = env.api.requests.length;
    // The pod is still in the cache (graceful deletion not seen yet) and the event is replayed.
    await env.reconciler.reconcile(key, CTX);
    const again = env.api.requests.slice(before);
    expect(again.filter((r) => r.verb === 'DELETE')).to.deep.equal([]);
    expect(
      again.filter(
        (r) =>
          (r.body as Json | undefined)?.metadata && JSON.stringify(r.body).includes('quarantine'),
      ),
    ).to.deep.equal([]);
    expect(env.events).to.have.length(3);
    expect(await actions(env, { outcome: 'success' })).to.equal(2);
  });

  it('a pod terminating with a long grace period is remediated: labelled, and its termination cut short', async () => {
    const env = setup();
    env.policy(ENFORCE);
    const key = env.addPod(
      escapePod('web-1', {
        deletionTimestamp: '2026-11-29T09:59:00Z',
        deletionGracePeriodSeconds: 3600,
      }),
    );
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls()).to.deep.equal([
      `PATCH ${podPath('web-1')}`,
      `PATCH ${podPath('web-1')}`,
      `DELETE ${podPath('web-1')}`,
    ]);
    expect(env.api.requests[2]?.body).to.deep.include({ gracePeriodSeconds: 0 });
  });

  it('a protected namespace: recorded, ActionSkipped per action, skipped counted, no DELETE', async () => {
    const env = setup();
    env.policy(ENFORCE);
    env.namespaces.set('kube-system', { name: 'kube-system', labels: {} });
    const key = env.addPod(escapePod('coredns', { namespace: 'kube-system' }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls()).to.deep.equal([`PATCH ${podPath('coredns', 'kube-system')}`]);
    expect(env.events.map((e) => [e.reason, e.action])).to.deep.equal([
      ['PolicyViolation', undefined],
      ['ActionSkipped', 'Label'],
      ['ActionSkipped', 'DeletePod'],
    ]);
    expect(env.events[2]?.message).to.contain('protected');
    expect(await actions(env, { action: 'DeletePod', outcome: 'skipped' })).to.equal(1);
    expect(await actions(env, { action: 'Label', outcome: 'skipped' })).to.equal(1);
    expect(await actions(env, { outcome: 'success' })).to.equal(0);
    // Reported once, not on every replay.
    await env.reconciler.reconcile(key, CTX);
    expect(env.events).to.have.length(3);
  });

  it("the operator's own namespace is protected", async () => {
    const env = setup({ ownNamespace: 'team-a' });
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    await env.reconciler.reconcile(key, CTX);
    expect(env.writes().map((r) => r.verb)).to.deep.equal(['PATCH']);
  });

  it('dry run: no request at all, only events, outcome dry_run', async () => {
    const env = setup({ dryRun: true });
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events.map((e) => e.reason)).to.deep.equal([
      'PolicyViolation',
      'ActionSkipped',
      'ActionSkipped',
    ]);
    expect(env.events[1]?.message).to.contain('dry run');
    expect(await actions(env, { action: 'Label', outcome: 'dry_run' })).to.equal(1);
    expect(await actions(env, { action: 'DeletePod', outcome: 'dry_run' })).to.equal(1);
    expect(await env.metric('deployguard_violations_total')).to.equal(1);
    // A replay announces nothing new (no annotation is written in a dry run).
    await env.reconciler.reconcile(key, CTX);
    expect(env.events).to.have.length(3);
    expect(env.api.requests).to.deep.equal([]);
  });

  it('a forged controller owner counts for nothing: ignoreOwnerKinds does not shelter it, and the Event says so', async () => {
    const env = setup();
    env.policy({
      mode: 'Enforce',
      rules: HOST_ESCAPE,
      actions: [DELETE],
      guards: { ignoreOwnerKinds: ['DaemonSet'] },
    });
    const forged = {
      apiVersion: 'evil.example/v1',
      kind: 'DaemonSet',
      name: 'ds',
      uid: 'x',
      controller: true,
    };
    const key = env.addPod(escapePod('web-1', { ownerReferences: [forged] }));
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.writes().map((r) => `${r.verb} ${r.path}`)).to.deep.equal([
      `PATCH ${podPath('web-1')}`,
      `DELETE ${podPath('web-1')}`,
    ]);
    const violation = env.events.find((e) => e.reason === 'PolicyViolation');
    expect(violation?.message).to.contain('false owner claim: DaemonSet ds');
  });

  it('loop: after three pods of one ReplicaSet are deleted, the 4th is skipped and reported once on the Deployment', async () => {
    const env = setup();
    env.policy({ mode: 'Enforce', rules: HOST_ESCAPE, actions: [DELETE] });
    for (let i = 1; i <= 3; i++) {
      const key = env.addPod(escapePod(`web-${i}`, { ownerReferences: [RS] }));
      await env.reconciler.reconcile(key, CTX);
      env.advance(10_000);
    }
    expect(env.api.requests.filter((r) => r.verb === 'DELETE')).to.have.length(3);
    env.events.length = 0;
    const fourth = env.addPod(escapePod('web-4', { ownerReferences: [RS] }));
    await env.reconciler.reconcile(fourth, CTX);
    expect(env.api.requests.filter((r) => r.verb === 'DELETE')).to.have.length(3);
    expect(env.events.map((e) => e.reason)).to.deep.equal([
      'PolicyViolation',
      'ActionSkipped',
      'RemediationLoop',
    ]);
    const loop = env.events[2];
    expect(loop).to.deep.include({ type: 'Warning', action: 'DeletePod' });
    expect(loop?.target).to.deep.equal({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      namespace: 'team-a',
      uid: 'dep-1',
    });
    expect(env.resolved[0]).to.deep.include({ kind: 'ReplicaSet', name: 'web-6d4f', uid: 'rs-1' });
    expect(await actions(env, { action: 'DeletePod', outcome: 'skipped' })).to.equal(1);
    const d = env.status.desired('p1', { violatingPods: () => 0, breakerOpen: () => false });
    expect(d?.loopingWorkloads).to.deep.equal([
      { kind: 'Deployment', namespace: 'team-a', name: 'web' },
    ]);
    // A 5th pod: skipped too, but the loop is not reported again.
    env.events.length = 0;
    await env.reconciler.reconcile(env.addPod(escapePod('web-5', { ownerReferences: [RS] })), CTX);
    expect(env.events.map((e) => e.reason)).to.deep.equal(['PolicyViolation', 'ActionSkipped']);
  });

  it('an action failing with 500 rejects (the queue retries), counted failed; the retry does only what is left', async () => {
    let fail = true;
    const env = setup({
      handler: (req) => {
        if (fail && req.verb === 'DELETE') throw apiError(500, 'InternalError', req);
        return undefined;
      },
    });
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    const err = await rejection(env.reconciler.reconcile(key, CTX));
    expect((err as { status?: number }).status).to.equal(500);
    expect(await actions(env, { action: 'DeletePod', outcome: 'failed' })).to.equal(1);
    expect(await actions(env, { action: 'Label', outcome: 'success' })).to.equal(1);
    env.reflect();
    fail = false;
    env.api.clear();
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls()).to.deep.equal([`DELETE ${podPath('web-1')}`]);
    expect(await actions(env, { action: 'DeletePod', outcome: 'success' })).to.equal(1);
    expect(env.events.filter((e) => e.reason === 'PolicyViolation')).to.have.length(1);
  });

  it('failing retries give back their rate-limit slot: the breaker stays closed', async () => {
    let fail = true;
    const env = setup({
      handler: (req) => {
        if (fail && req.verb === 'DELETE') throw apiError(500, 'InternalError', req);
        return undefined;
      },
    });
    env.policy({
      mode: 'Enforce',
      rules: HOST_ESCAPE,
      actions: [DELETE],
      guards: { maxActionsPerMinute: 1 },
    });
    const key = env.addPod(escapePod());
    for (let i = 0; i < 3; i++) await rejection(env.reconciler.reconcile(key, CTX));
    expect(await actions(env, { action: 'DeletePod', outcome: 'failed' })).to.equal(3);
    expect(env.guards.breakerOpen('p1', env.now())).to.equal(false);
    fail = false;
    await env.reconciler.reconcile(key, CTX);
    expect(await actions(env, { action: 'DeletePod', outcome: 'success' })).to.equal(1);
  });

  it('a demoted leader counts and writes nothing for keys its workers still hold', async () => {
    const env = setup();
    env.policy({ rules: HOST_ESCAPE });
    const key = env.addPod(escapePod());
    const demoted = new PodReconciler({ ...env.deps, isLeader: () => false });
    await demoted.reconcile(key, CTX);
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events).to.deep.equal([]);
    expect(await env.metric('deployguard_pods_evaluated_total')).to.equal(0);
  });

  it('a recording PATCH failing with 500 rejects before any action', async () => {
    const env = setup({
      handler: (req) => {
        if (req.verb === 'PATCH') throw apiError(500, 'InternalError', req);
        return undefined;
      },
    });
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    await rejection(env.reconciler.reconcile(key, CTX));
    expect(env.api.calls()).to.deep.equal([`PATCH ${podPath('web-1')}`]);
  });

  it('a record the server refuses (422: annotations at their limit) never stops the actions; the key is not retried', async () => {
    const env = setup({
      handler: (req) => {
        const body = req.body as { metadata?: { annotations?: Json } } | undefined;
        if (req.verb === 'PATCH' && body?.metadata?.annotations)
          throw apiError(
            422,
            'Invalid',
            req,
            'metadata.annotations: Too long: must have at most 262144 bytes',
          );
        return undefined;
      },
    });
    env.policy(ENFORCE);
    const key = env.addPod(escapePod());
    const err = await rejection(env.reconciler.reconcile(key, CTX));
    expect(err).to.be.instanceOf(TerminalError);
    // The label and the deletion still happened after the refused record.
    expect(env.api.calls()).to.deep.equal([
      `PATCH ${podPath('web-1')}`,
      `PATCH ${podPath('web-1')}`,
      `DELETE ${podPath('web-1')}`,
    ]);
    expect(env.events.map((e) => e.reason)).to.deep.equal([
      'PolicyViolation',
      'PodLabeled',
      'PodDeleted',
    ]);
  });

  it('eviction refused by a PodDisruptionBudget (429): ActionSkipped, skipped, requeue after 30 s', async () => {
    const env = setup({
      handler: (req) => {
        if (req.path.endsWith('/eviction')) throw apiError(429, 'TooManyRequests', req);
        return undefined;
      },
    });
    env.policy({
      mode: 'Enforce',
      rules: HOST_ESCAPE,
      actions: [{ type: 'DeletePod', evict: true }],
    });
    const key = env.addPod(escapePod());
    expect(await env.reconciler.reconcile(key, CTX)).to.deep.equal({ requeueAfterMs: 30_000 });
    expect(env.events.map((e) => e.reason)).to.deep.equal(['PolicyViolation', 'ActionSkipped']);
    expect(await actions(env, { action: 'DeletePod', outcome: 'skipped' })).to.equal(1);
    // Another change of the pod (our own record landing) does not ask again before 30 s...
    env.reflect();
    env.api.clear();
    env.advance(1000);
    expect(await env.reconciler.reconcile(key, CTX)).to.deep.equal({ requeueAfterMs: 29_000 });
    expect(env.api.calls()).to.deep.equal([]);
    expect(await actions(env, { action: 'DeletePod', outcome: 'skipped' })).to.equal(1);
    // ...the requeue does: not settled, it asks again.
    env.advance(29_000);
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls()).to.deep.equal([`POST ${podPath('web-1')}/eviction`]);
  });

  it('the breaker: beyond maxActionsPerMinute the action is skipped, requeued, and runs after a quiet minute', async () => {
    const env = setup();
    env.policy({ ...ENFORCE, guards: { maxActionsPerMinute: 1 } });
    const key = env.addPod(escapePod());
    // Looked at again when the breaker closes, a minute after it opened, plus up to 10 s jitter.
    const r = await env.reconciler.reconcile(key, CTX);
    expect(r?.requeueAfterMs).to.be.within(60_000, 70_000);
    expect(env.api.requests.filter((r) => r.verb === 'DELETE')).to.have.length(0);
    expect(env.events.map((e) => e.reason)).to.deep.equal([
      'PolicyViolation',
      'PodLabeled',
      'ActionSkipped',
    ]);
    expect(env.guards.breakerOpen('p1', env.now())).to.equal(true);
    env.reflect();
    env.advance(60_000);
    expect(await env.reconciler.reconcile(key, CTX)).to.equal(undefined);
    expect(env.api.requests.filter((r) => r.verb === 'DELETE')).to.have.length(1);
  });

  it('CordonNode: patches the pod node, and counts nodes for the cap', async () => {
    const env = setup();
    env.policy({
      mode: 'Enforce',
      rules: HOST_ESCAPE,
      actions: [{ type: 'CordonNode' }],
      guards: { maxCordonedNodesPercent: 50 },
    });
    env.nodes.set('n2', {
      name: 'n2',
      uid: 'node-2',
      unschedulable: false,
      controlPlane: false,
      labels: {},
    });
    // Placed by the scheduler (nobody's managedFields own spec.nodeName). Pending (not started on
    // the node yet): no cordon, nothing reported; Running: cordoned.
    const placed = { managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }] };
    const pending = env.addPod(escapePod('web-1', placed));
    await env.reconciler.reconcile(pending, CTX);
    expect(env.api.calls()).to.deep.equal([`PATCH ${podPath('web-1')}`]);
    env.reflect();
    env.api.clear();
    const key = env.addPod({ ...escapePod('web-1', placed), status: { phase: 'Running' } });
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls()).to.deep.equal([`PATCH ${podPath('web-1')}`, 'PATCH /api/v1/nodes/n1']);
    expect(env.events.map((e) => e.reason)).to.deep.equal(['PolicyViolation', 'NodeCordoned']);
  });

  it('CordonNode: a pod its creator pinned to a node (spec.nodeName) never cordons it', async () => {
    const env = setup();
    env.policy({
      mode: 'Enforce',
      rules: HOST_ESCAPE,
      actions: [{ type: 'CordonNode' }],
      guards: { maxCordonedNodesPercent: 100 },
    });
    const key = env.addPod({ ...escapePod(), status: { phase: 'Running' } });
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.calls()).to.deep.equal([`PATCH ${podPath('web-1')}`]);
    expect(env.events.map((e) => e.reason)).to.deep.equal(['PolicyViolation', 'ActionSkipped']);
    expect(env.events[1]?.message).to.contain('spec.nodeName');
  });

  it('actions already in effect after a restart do not count toward the rate limit', async () => {
    // Pods labelled by a previous run: the Label action is a no-op for each. A restart (or a new
    // leader) reconciles them all; that must not open the breaker and block real remediation.
    const env = setup();
    env.policy({
      mode: 'Enforce',
      rules: HOST_ESCAPE,
      actions: [LABEL],
      guards: { maxActionsPerMinute: 2 },
    });
    const keys: string[] = [];
    for (let i = 1; i <= 4; i++) {
      keys.push(
        env.addPod(
          escapePod(`web-${i}`, {
            annotations: {
              [VIOLATIONS]: RECORD,
              [DETECTED_AT]: '2026-11-01T00:00:00Z',
              [RECORDED_UID]: `uid-web-${i}`,
            },
            labels: { [VIOLATING]: 'true', quarantine: 'true' },
          }),
        ),
      );
    }
    for (const k of keys) await env.reconciler.reconcile(k, CTX);
    expect(env.api.requests).to.deep.equal([]);
    expect(env.events).to.deep.equal([]);
    expect(await actions(env, { outcome: 'skipped' })).to.equal(0);
    expect(env.guards.breakerOpen('p1', env.now())).to.equal(false);
  });

  it('an action that newly applies after a policy change runs (settled memory is per action, not per plan position)', async () => {
    const env = setup();
    // v1: only the latest-tag rule (low) fires; DeletePod needs critical, so only Label runs.
    const v1 = {
      mode: 'Enforce',
      rules: { images: { disallowLatestTag: true } },
      actions: [{ ...DELETE, minSeverity: 'critical' }, LABEL],
    };
    env.policy(v1, 'p1', 1);
    const key = env.addPod(
      escapePod('web-1', {}, { containers: [{ name: 'app', image: 'evil:latest' }] }),
    );
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests.filter((r) => r.verb === 'DELETE')).to.have.length(0);
    expect(await actions(env, { action: 'Label', outcome: 'success' })).to.equal(1);
    env.reflect();
    // v2 also catches the host escape (critical): now the pod must be deleted.
    env.policy({ ...v1, rules: { ...v1.rules, ...HOST_ESCAPE } }, 'p1', 2);
    await env.reconciler.reconcile(key, CTX);
    expect(env.api.requests.filter((r) => r.verb === 'DELETE')).to.have.length(1);
  });
});

describe('PodReconciler: hostile input', () => {
  const weird: Json[] = [
    {
      metadata: {
        name: 'w1',
        namespace: 'team-a',
        uid: 7,
        labels: 'no',
        annotations: [1, 2],
        ownerReferences: { kind: 'x' },
        deletionTimestamp: 5,
      },
      spec: { containers: 'nope', volumes: [{ hostPath: 7 }, null], nodeName: {} },
    },
    {
      metadata: {
        name: 'w2',
        namespace: 'team-a',
        annotations: { [VIOLATIONS]: '{"not":"an array"}', [DETECTED_AT]: 12 },
        labels: { [VIOLATING]: ['true'] },
        ownerReferences: [null, { controller: 'yes' }],
      },
      spec: {
        containers: [{ name: 5, image: null, securityContext: 'privileged' }],
        volumes: [{ name: 'root', hostPath: { path: '/' } }],
        nodeName: 'ghost-node',
      },
    },
    {
      metadata: {
        name: 'w3',
        namespace: 'team-a',
        annotations: { [VIOLATIONS]: 'x'.repeat(100_000) },
      },
      spec: { volumes: [{ name: 'root', hostPath: { path: '/' } }], containers: [] },
    },
  ];

  it('never throws on malformed pods (fixed cases)', async () => {
    const env = setup();
    env.policy({
      mode: 'Enforce',
      rules: {
        ...HOST_ESCAPE,
        images: { disallowLatestTag: true },
        ownership: { denyBarePods: true },
      },
      actions: [LABEL, { type: 'Isolate' }, DELETE, { type: 'CordonNode' }],
      guards: { maxCordonedNodesPercent: 100 },
    });
    for (const raw of weird) {
      const c = cachedPod(raw);
      if (!c) continue;
      const key = `team-a/${String((raw.metadata as Json).name)}`;
      env.pods.set(key, c);
      await env.reconciler.reconcile(key, CTX);
      env.reconciler.observed(key, env.now(), c);
      env.pods.delete(key);
      await env.reconciler.reconcile(key, CTX);
    }
  });

  it('never throws on arbitrary pod-shaped JSON (property)', async () => {
    const env = setup();
    env.policy({
      mode: 'Enforce',
      rules: {
        ...HOST_ESCAPE,
        images: { disallowLatestTag: true },
        ownership: { denyBarePods: true },
      },
      actions: [LABEL, DELETE],
    });
    const anyValue = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.object(),
    );
    const raw = fc.record({
      metadata: fc.record({
        name: fc.constantFrom('a', 'b'),
        namespace: fc.constantFrom('team-a', 'kube-system'),
        uid: anyValue,
        labels: fc.oneof(anyValue, fc.dictionary(fc.string(), anyValue)),
        annotations: fc.oneof(
          anyValue,
          fc.record({ [VIOLATIONS]: fc.oneof(fc.string(), fc.json()), [DETECTED_AT]: anyValue }),
        ),
        ownerReferences: fc.oneof(anyValue, fc.array(anyValue)),
        creationTimestamp: anyValue,
      }),
      spec: fc.record({
        containers: fc.oneof(
          anyValue,
          fc.array(fc.record({ name: anyValue, image: anyValue, securityContext: anyValue })),
        ),
        volumes: fc.oneof(anyValue, fc.constant([{ name: 'root', hostPath: { path: '/' } }])),
        nodeName: anyValue,
      }),
    });
    await fc.assert(
      fc.asyncProperty(raw, async (r) => {
        const c = cachedPod(r);
        if (!c) return;
        const key = `${c.view.metadata.namespace}/${c.view.metadata.name}`;
        env.pods.set(key, c);
        await env.reconciler.reconcile(key, CTX);
      }),
      { numRuns: 200 },
    );
  });
});

describe('LeaderGate', () => {
  it('a follower lets reads through and refuses every write before it reaches the API', async () => {
    const inner = new FakeKubeApi(() => ({ ok: true }));
    let leading = false;
    const gate = new LeaderGate(inner, () => leading);
    expect(await gate.request('GET', '/api/v1/pods')).to.deep.equal({ ok: true });
    for (const verb of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const err = await rejection(gate.request(verb, '/api/v1/namespaces/a/pods/b'));
      expect(err).to.be.instanceOf(NotLeaderError);
    }
    expect(inner.calls()).to.deep.equal(['GET /api/v1/pods']);
    leading = true;
    await gate.request('DELETE', '/x');
    expect(inner.calls()).to.deep.equal(['GET /api/v1/pods', 'DELETE /x']);
  });

  it("cuts a write's timeout to the time left in the leader's term", async () => {
    const timeouts: (number | undefined)[] = [];
    const inner = new FakeKubeApi();
    const request = inner.request.bind(inner);
    inner.request = (verb, path, o) => {
      timeouts.push(o?.timeoutMs);
      return request(verb, path, o);
    };
    let left = 4000;
    const gate = new LeaderGate(
      inner,
      () => true,
      undefined,
      () => left,
    );
    await gate.request('PATCH', '/a');
    await gate.request('PATCH', '/a', { timeoutMs: 1000 });
    left = 60_000;
    await gate.request('PATCH', '/a');
    await gate.request('GET', '/a');
    expect(timeouts).to.deep.equal([4000, 1000, 30_000, undefined]);
  });
});
