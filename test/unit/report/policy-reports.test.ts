import { expect } from 'chai';
import type { Severity } from '../../../src/api/constants.ts';
import { ViolatingPods } from '../../../src/controllers/pod/violating-pods.ts';
import type { Violation } from '../../../src/engine/violation.ts';
import {
  MAX_RESULTS,
  PolicyReporter,
  policyReportsServed,
  reportResults,
} from '../../../src/report/policy-reports.ts';
import { FakeKubeApi, apiError, type RecordedRequest } from '../../support/fake-kube-api.ts';

const BASE = '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports';
const ALL = '/apis/wgpolicyk8s.io/v1alpha2/policyreports';

function v(rule: string, severity: Severity = 'high', container?: string): Violation {
  const out: Violation = {
    policy: 'p1',
    rule,
    severity,
    path: 'spec.containers[0]',
    message: `bad ${rule}`,
    techniques: ['T1610', 'T1611'],
  };
  if (container) out.container = container;
  return out;
}

const pod = (name: string, namespace = 'team-a') => ({ namespace, name, uid: `uid-${name}` });

describe('reportResults', () => {
  it('one fail result per violation, pods by name, ATT&CK IDs in properties', () => {
    const vp = new ViolatingPods();
    vp.set('team-a/zed', pod('zed'), [v('image.latestTag', 'low')]);
    vp.set('team-a/abe', pod('abe'), [v('pss.privileged', 'critical', 'app')]);
    vp.set('other/x', pod('x', 'other'), [v('r')]);
    const results = reportResults(vp, 'team-a');
    expect(results).to.deep.equal([
      {
        source: 'deployguard',
        policy: 'p1',
        rule: 'pss.privileged',
        category: 'MITRE ATT&CK T1610',
        severity: 'critical',
        result: 'fail',
        scored: true,
        message: 'bad pss.privileged',
        properties: { techniques: 'T1610,T1611', path: 'spec.containers[0]', container: 'app' },
        resources: [
          { apiVersion: 'v1', kind: 'Pod', namespace: 'team-a', name: 'abe', uid: 'uid-abe' },
        ],
      },
      {
        source: 'deployguard',
        policy: 'p1',
        rule: 'image.latestTag',
        category: 'MITRE ATT&CK T1610',
        severity: 'low',
        result: 'fail',
        scored: true,
        message: 'bad image.latestTag',
        properties: { techniques: 'T1610,T1611', path: 'spec.containers[0]' },
        resources: [
          { apiVersion: 'v1', kind: 'Pod', namespace: 'team-a', name: 'zed', uid: 'uid-zed' },
        ],
      },
    ]);
    expect(reportResults(vp, 'empty')).to.deep.equal([]);
  });

  it('is bounded by MAX_RESULTS, and messages are bounded', () => {
    const vp = new ViolatingPods();
    for (let i = 0; i < 40; i++) {
      const list = Array.from({ length: 40 }, (_, j) => ({
        ...v(`r${j}`),
        message: 'm'.repeat(2000),
      }));
      vp.set(`team-a/p${i}`, pod(`p${i}`), list);
    }
    const results = reportResults(vp, 'team-a');
    expect(results).to.have.length(MAX_RESULTS);
    for (const r of results) expect((r.message as string).length).to.be.at.most(512);
  });
});

describe('policyReportsServed', () => {
  it('true when discovery lists policyreports, false when not or 404, throws otherwise', async () => {
    const served = new FakeKubeApi(() => ({
      resources: [{ name: 'clusterpolicyreports' }, { name: 'policyreports' }],
    }));
    expect(await policyReportsServed(served)).to.equal(true);
    expect(served.calls()).to.deep.equal(['GET /apis/wgpolicyk8s.io/v1alpha2']);
    expect(await policyReportsServed(new FakeKubeApi(() => ({ resources: [] })))).to.equal(false);
    expect(await policyReportsServed(new FakeKubeApi(() => ({})))).to.equal(false);
    const missing = new FakeKubeApi(() => {
      throw apiError(404, 'NotFound');
    });
    expect(await policyReportsServed(missing)).to.equal(false);
    const broken = new FakeKubeApi(() => {
      throw apiError(503, 'ServiceUnavailable');
    });
    let thrown: unknown;
    await policyReportsServed(broken).catch((e) => (thrown = e));
    expect(thrown).to.be.instanceOf(Error);
  });
});

describe('PolicyReporter.sync', () => {
  /** A fake report store behind the API: GET/POST/PUT/DELETE of the one report. */
  function cluster() {
    let stored: Record<string, unknown> | undefined;
    let rv = 0;
    const api = new FakeKubeApi((req: RecordedRequest) => {
      // The cluster-wide LIST of our reports (reset at the start of a term).
      if (req.verb === 'GET' && req.path === ALL) {
        const ns = (stored?.metadata as { namespace?: string } | undefined)?.namespace;
        return { items: ns ? [{ metadata: { name: 'deployguard', namespace: ns } }] : [] };
      }
      if (req.verb === 'GET') {
        if (!stored) throw apiError(404, 'NotFound', req);
        return stored;
      }
      if (req.verb === 'POST' || req.verb === 'PUT') {
        const b = req.body as Record<string, unknown>;
        stored = { ...b, metadata: { ...(b.metadata as object), resourceVersion: String(++rv) } };
        return stored;
      }
      if (req.verb === 'DELETE') {
        if (!stored) throw apiError(404, 'NotFound', req);
        stored = undefined;
      }
      return undefined;
    });
    return { api, stored: () => stored };
  }

  it('creates (POST) the report when missing', async () => {
    const { api } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    const rep = new PolicyReporter({ api, violating: vp });
    expect(await rep.sync()).to.deep.equal([]);
    expect(api.calls()).to.deep.equal([`GET ${BASE}/deployguard`, `POST ${BASE}`]);
    const body = api.requests[1]?.body as Record<string, unknown>;
    expect(body).to.deep.include({
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      summary: { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 },
      results: reportResults(vp, 'team-a'),
    });
    expect(body.metadata).to.deep.equal({
      name: 'deployguard',
      namespace: 'team-a',
      labels: { 'app.kubernetes.io/managed-by': 'deployguard' },
    });
  });

  it('PUTs with the resourceVersion when present and different; nothing when unchanged', async () => {
    const { api } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    const rep = new PolicyReporter({ api, violating: vp });
    await rep.sync();
    api.clear();
    vp.set('team-a/y', pod('y'), [v('image.latestTag', 'low')]);
    await rep.sync();
    expect(api.calls()).to.deep.equal([`GET ${BASE}/deployguard`, `PUT ${BASE}/deployguard`]);
    const put = api.requests[1]?.body as { metadata: { resourceVersion?: string }; results: [] };
    expect(put.metadata.resourceVersion).to.equal('1');
    expect(put.results).to.have.length(2);
    api.clear();
    // Same violations again (a resync marks the namespace dirty): no request at all.
    vp.set('team-a/y', pod('y'), [v('image.latestTag', 'low')]);
    await rep.sync();
    expect(api.requests).to.deep.equal([]);
  });

  it('DELETEs the report when the namespace has no violations left, once', async () => {
    const { api, stored } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    const rep = new PolicyReporter({ api, violating: vp });
    await rep.sync();
    api.clear();
    vp.delete('team-a/x');
    expect(await rep.sync()).to.deep.equal([]);
    expect(api.calls()).to.deep.equal([`DELETE ${BASE}/deployguard`]);
    expect(stored()).to.equal(undefined);
    api.clear();
    vp.set('team-a/x', pod('x'), []);
    await rep.sync();
    expect(api.requests).to.deep.equal([]);
  });

  it("reset finds a previous leader's report with one LIST and removes it when nothing violates", async () => {
    const { api } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    await new PolicyReporter({ api, violating: vp }).sync();
    // A new leader: the pod no longer violates, and this process never wrote the report.
    const next = new ViolatingPods();
    const rep = new PolicyReporter({ api, violating: next });
    api.clear();
    await rep.reset();
    expect(api.requests[0]?.query).to.deep.equal({
      labelSelector: 'app.kubernetes.io/managed-by=deployguard',
    });
    expect(await rep.sync()).to.deep.equal([]);
    expect(api.calls()).to.deep.equal([`GET ${ALL}`, `DELETE ${BASE}/deployguard`]);
    // Nothing of ours anywhere: reset costs one LIST and nothing else.
    api.clear();
    await rep.reset();
    await rep.sync();
    expect(api.calls()).to.deep.equal([`GET ${ALL}`]);
  });

  it('failures are returned and the namespace is retried on the next sync', async () => {
    const { api } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    const rep = new PolicyReporter({ api, violating: vp });
    const inner = api.handler;
    api.handler = (req) => {
      if (req.verb === 'POST') throw apiError(500, 'InternalError', req);
      return inner(req);
    };
    const failures = await rep.sync();
    expect(failures).to.have.length(1);
    api.handler = inner;
    api.clear();
    expect(await rep.sync()).to.deep.equal([]);
    expect(api.calls()).to.deep.equal([`GET ${BASE}/deployguard`, `POST ${BASE}`]);
  });

  it('a conflict on PUT is a failure (retried), not a silent loss', async () => {
    const { api } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    const rep = new PolicyReporter({ api, violating: vp });
    await rep.sync();
    const inner = api.handler;
    api.handler = (req) => {
      if (req.verb === 'PUT') throw apiError(409, 'Conflict', req);
      return inner(req);
    };
    vp.set('team-a/y', pod('y'), [v('r')]);
    expect(await rep.sync()).to.have.length(1);
    api.handler = inner;
    expect(await rep.sync()).to.deep.equal([]);
  });

  it('reset forgets what was written: the next sync rewrites', async () => {
    const { api } = cluster();
    const vp = new ViolatingPods();
    vp.set('team-a/x', pod('x'), [v('pss.privileged', 'critical')]);
    const rep = new PolicyReporter({ api, violating: vp });
    await rep.sync();
    api.clear();
    await rep.reset();
    await rep.sync();
    expect(api.calls()).to.deep.equal([
      `GET ${ALL}`,
      `GET ${BASE}/deployguard`,
      `PUT ${BASE}/deployguard`,
    ]);
  });
});
