import { expect } from 'chai';
import type {
  CordonNodeAction,
  DeletePodAction,
  IsolateAction,
  LabelAction,
} from '../../../src/api/policy.ts';
import type { Violation } from '../../../src/engine/violation.ts';
import type { ActionContext, NodeInfo } from '../../../src/remediation/action.ts';
import { ACTIONS, actionFor, actionPermissions } from '../../../src/remediation/action-catalog.ts';
import { cordonNode } from '../../../src/remediation/cordon-node.ts';
import { deletePod, EVICTION_RETRY_MS } from '../../../src/remediation/delete-pod.ts';
import { isolatePod, isolationPolicyName } from '../../../src/remediation/isolate.ts';
import { labelPod } from '../../../src/remediation/label.ts';
import { podJson, view, type Json } from '../builders.ts';
import { FakeKubeApi, apiError, failOn } from '../../support/fake-kube-api.ts';

const NOW = new Date('2026-11-29T10:00:00.500Z');
const POD_PATH = '/api/v1/namespaces/team-a/pods/web-1';
const because: Violation[] = [
  {
    policy: 'p1',
    rule: 'pss.privileged',
    severity: 'critical',
    path: 'spec.containers[0].securityContext.privileged',
    message: 'privileged',
    techniques: ['T1610'],
  },
  {
    policy: 'p1',
    rule: 'pss.privileged',
    severity: 'critical',
    path: 'spec.containers[1].securityContext.privileged',
    message: 'privileged',
    techniques: ['T1610'],
  },
  {
    policy: 'p1',
    rule: 'hostPath.sensitive',
    severity: 'critical',
    path: 'spec.volumes[0]',
    message: 'root',
    techniques: ['T1611'],
  },
];

const pod = (meta: Json = {}) =>
  view(podJson({ nodeName: 'n1' }, { name: 'web-1', namespace: 'team-a', uid: 'u-1', ...meta }));
const node = (over: Partial<NodeInfo> = {}): NodeInfo => ({
  name: 'n1',
  uid: 'node-uid',
  unschedulable: false,
  controlPlane: false,
  labels: {},
  ...over,
});
const ctx = (api: FakeKubeApi): ActionContext => ({ api, policy: 'p1', because, now: NOW });
const label = (labels: Record<string, string>): LabelAction => ({ type: 'Label', labels });
const del = (over: Partial<DeletePodAction> = {}): DeletePodAction => ({
  type: 'DeletePod',
  evict: false,
  ...over,
});
const ISOLATE: IsolateAction = { type: 'Isolate' };
const CORDON: CordonNodeAction = { type: 'CordonNode' };

describe('Label action', () => {
  it('merge-patches the missing labels with metadata.uid', async () => {
    const api = new FakeKubeApi();
    const out = await labelPod.execute(
      ctx(api),
      { pod: pod({ labels: { keep: 'me', quarantine: 'false' } }) },
      label({ quarantine: 'true', keep: 'me', team: 'sec' }),
    );
    expect(api.requests).to.deep.equal([
      {
        verb: 'PATCH',
        path: POD_PATH,
        contentType: 'application/merge-patch+json',
        body: { metadata: { uid: 'u-1', labels: { quarantine: 'true', team: 'sec' } } },
      },
    ]);
    expect(out.kind).to.equal('success');
    if (out.kind !== 'success') return;
    expect(out.event).to.deep.include({ type: 'Normal', reason: 'PodLabeled', action: 'Label' });
    expect(out.event.target).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Pod',
      name: 'web-1',
      namespace: 'team-a',
      uid: 'u-1',
    });
    // Each rule once.
    expect(out.event.message).to.contain('pss.privileged, hostPath.sensitive');
    expect(out.event.message).to.contain('quarantine=true,team=sec');
  });
  it('is a noop without a request when the labels are there', async () => {
    const api = new FakeKubeApi();
    const out = await labelPod.execute(
      ctx(api),
      { pod: pod({ labels: { quarantine: 'true' } }) },
      label({ quarantine: 'true' }),
    );
    expect(out.kind).to.equal('noop');
    expect(api.requests).to.deep.equal([]);
  });
  it('404 and 422 (uid mismatch) are noop; 500 throws', async () => {
    for (const [status, kind] of [
      [404, 'noop'],
      [422, 'noop'],
    ] as const) {
      const api = new FakeKubeApi(() => {
        throw apiError(
          status,
          undefined,
          undefined,
          'metadata.uid: Invalid value: field is immutable',
        );
      });
      expect((await labelPod.execute(ctx(api), { pod: pod() }, label({ a: 'b' }))).kind).to.equal(
        kind,
      );
    }
    // Any other 422 (e.g. annotations at their size limit) is a failure, not "gone".
    const full = new FakeKubeApi(() => {
      throw apiError(422, 'Invalid', undefined, 'metadata.annotations: Too long');
    });
    let refused: unknown;
    await labelPod
      .execute(ctx(full), { pod: pod() }, label({ a: 'b' }))
      .catch((e) => (refused = e));
    expect((refused as { status?: number })?.status).to.equal(422);
    const api = new FakeKubeApi(() => {
      throw apiError(500, 'InternalError');
    });
    let thrown: unknown;
    await labelPod.execute(ctx(api), { pod: pod() }, label({ a: 'b' })).catch((e) => (thrown = e));
    expect((thrown as { status?: number })?.status).to.equal(500);
  });
  it('escapes the namespace and name in the path', async () => {
    const api = new FakeKubeApi();
    await labelPod.execute(
      ctx(api),
      { pod: pod({ name: 'a/b?c', namespace: 'n s' }) },
      label({ a: 'b' }),
    );
    expect(api.requests[0]?.path).to.equal('/api/v1/namespaces/n%20s/pods/a%2Fb%3Fc');
  });
});

describe('DeletePod action', () => {
  it('DELETEs with preconditions.uid and gracePeriodSeconds', async () => {
    const api = new FakeKubeApi();
    const out = await deletePod.execute(ctx(api), { pod: pod() }, del({ gracePeriodSeconds: 0 }));
    expect(api.requests).to.deep.equal([
      {
        verb: 'DELETE',
        path: POD_PATH,
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          preconditions: { uid: 'u-1' },
          gracePeriodSeconds: 0,
        },
      },
    ]);
    expect(out.kind).to.equal('success');
    if (out.kind === 'success') {
      expect(out.event).to.deep.include({
        type: 'Warning',
        reason: 'PodDeleted',
        action: 'DeletePod',
      });
    }
  });
  it('omits gracePeriodSeconds when the policy does not set it', async () => {
    const api = new FakeKubeApi();
    await deletePod.execute(ctx(api), { pod: pod() }, del());
    expect(api.requests[0]?.body).to.deep.equal({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: 'u-1' },
    });
  });
  it('evict POSTs a policy/v1 Eviction with deleteOptions', async () => {
    const api = new FakeKubeApi();
    const out = await deletePod.execute(
      ctx(api),
      { pod: pod() },
      del({ evict: true, gracePeriodSeconds: 5 }),
    );
    expect(api.requests).to.deep.equal([
      {
        verb: 'POST',
        path: `${POD_PATH}/eviction`,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: 'web-1', namespace: 'team-a' },
          deleteOptions: { preconditions: { uid: 'u-1' }, gracePeriodSeconds: 5 },
        },
      },
    ]);
    expect(out.kind === 'success' && out.event.reason).to.equal('PodEvicted');
  });
  it('429 on eviction (a PodDisruptionBudget) is refused with a retry delay', async () => {
    const api = new FakeKubeApi(() => {
      throw apiError(429, 'TooManyRequests');
    });
    const out = await deletePod.execute(ctx(api), { pod: pod() }, del({ evict: true }));
    expect(out).to.include({ kind: 'refused', retryAfterMs: EVICTION_RETRY_MS });
  });
  it('429 on a plain DELETE is a failure (throws)', async () => {
    const api = new FakeKubeApi(() => {
      throw apiError(429, 'TooManyRequests');
    });
    let thrown: unknown;
    await deletePod.execute(ctx(api), { pod: pod() }, del()).catch((e) => (thrown = e));
    expect(thrown).to.be.instanceOf(Error);
  });
  it('404 and 409 Conflict are noop, for delete and evict', async () => {
    for (const evict of [false, true]) {
      for (const [status, reason] of [
        [404, 'NotFound'],
        [409, 'Conflict'],
      ] as const) {
        const api = new FakeKubeApi(() => {
          throw apiError(status, reason);
        });
        const out = await deletePod.execute(ctx(api), { pod: pod() }, del({ evict }));
        expect(out.kind, `${evict} ${status}`).to.equal('noop');
      }
    }
  });
  it('a pod terminating within the grace it would get, or without uid: nothing to do', async () => {
    const api = new FakeKubeApi();
    const closing = pod({
      deletionTimestamp: '2026-11-29T09:00:00Z',
      deletionGracePeriodSeconds: 0,
    });
    expect((await deletePod.execute(ctx(api), { pod: closing }, del())).kind).to.equal('noop');
    expect(deletePod.inEffect({ pod: closing }, del())).to.equal(true);
    expect(
      (await deletePod.execute(ctx(api), { pod: pod({ uid: undefined }) }, del())).kind,
    ).to.equal('noop');
    expect(api.requests).to.deep.equal([]);
  });

  it('a pod its deleter gave an hour to terminate: deleted again with the short grace, never evicted', async () => {
    const api = new FakeKubeApi();
    const lingering = pod({
      deletionTimestamp: '2026-11-29T09:00:00Z',
      deletionGracePeriodSeconds: 3600,
    });
    expect(deletePod.inEffect({ pod: lingering }, del())).to.equal(false);
    const out = await deletePod.execute(
      ctx(api),
      { pod: lingering },
      del({ gracePeriodSeconds: 0, evict: true }),
    );
    expect(api.calls()).to.deep.equal([`DELETE ${POD_PATH}`]);
    expect(api.requests[0]?.body).to.deep.include({ gracePeriodSeconds: 0 });
    expect(out.kind === 'success' && out.event.message).to.contain('cut the pod');
  });
});

describe('Isolate action', () => {
  const npPath = `/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies`;
  const npName = isolationPolicyName('u-1');
  const DENY_ALL = {
    podSelector: { matchLabels: { 'deployguard.dev/isolated': 'u-1' } },
    policyTypes: ['Ingress', 'Egress'],
  };
  /** Our NetworkPolicy, as the API server returns it. */
  const OURS = {
    kind: 'NetworkPolicy',
    metadata: { name: npName, resourceVersion: '7' },
    spec: DENY_ALL,
  };
  const LABELLED = { labels: { 'deployguard.dev/isolated': 'u-1' } };

  it('does not claim to isolate a hostNetwork pod (NetworkPolicies do not apply to it)', async () => {
    const api = new FakeKubeApi();
    const hostPod = view(
      podJson({ hostNetwork: true }, { name: 'web-1', namespace: 'team-a', uid: 'u-1' }),
    );
    const out = await isolatePod.execute(ctx(api), { pod: hostPod }, ISOLATE);
    expect(out.kind).to.equal('skipped');
    expect(api.requests).to.deep.equal([]);
  });

  it('creates the deny-all NetworkPolicy BEFORE labelling the pod', async () => {
    const api = new FakeKubeApi(failOn('GET', npPath, apiError(404, 'NotFound')));
    const out = await isolatePod.execute(ctx(api), { pod: pod() }, ISOLATE);
    expect(api.calls()).to.deep.equal([
      `GET ${npPath}/${npName}`,
      `POST ${npPath}`,
      `PATCH ${POD_PATH}`,
    ]);
    const np = api.requests[1]?.body as Json;
    expect(np).to.deep.include({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' });
    const meta = np.metadata as Json;
    expect(meta.name).to.equal('deployguard-isolate-u-1');
    expect(meta.namespace).to.equal('team-a');
    expect(meta.ownerReferences).to.deep.equal([
      { apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid: 'u-1' },
    ]);
    expect(np.spec).to.deep.equal({
      podSelector: { matchLabels: { 'deployguard.dev/isolated': 'u-1' } },
      policyTypes: ['Ingress', 'Egress'],
    });
    expect(api.requests[2]).to.deep.equal({
      verb: 'PATCH',
      path: POD_PATH,
      contentType: 'application/merge-patch+json',
      body: { metadata: { uid: 'u-1', labels: { 'deployguard.dev/isolated': 'u-1' } } },
    });
    expect(out.kind === 'success' && out.event).to.deep.include({
      type: 'Warning',
      reason: 'PodIsolated',
      action: 'Isolate',
    });
  });
  it('is a noop with one GET when the policy exists and the pod carries the label', async () => {
    const api = new FakeKubeApi(() => OURS);
    const out = await isolatePod.execute(
      ctx(api),
      { pod: pod({ labels: { 'deployguard.dev/isolated': 'u-1' } }) },
      ISOLATE,
    );
    expect(out.kind).to.equal('noop');
    expect(api.writes()).to.deep.equal([]);
  });
  it('only labels when the policy already exists; only creates when the label is there', async () => {
    const a = new FakeKubeApi(() => OURS);
    await isolatePod.execute(ctx(a), { pod: pod() }, ISOLATE);
    expect(a.writes().map((r) => r.verb)).to.deep.equal(['PATCH']);
    const b = new FakeKubeApi(failOn('GET', npPath, apiError(404, 'NotFound')));
    await isolatePod.execute(
      ctx(b),
      { pod: pod({ labels: { 'deployguard.dev/isolated': 'u-1' } }) },
      ISOLATE,
    );
    expect(b.writes().map((r) => r.verb)).to.deep.equal(['POST']);
  });
  it('a label with another uid (copied from a template) is overwritten', async () => {
    const api = new FakeKubeApi(() => OURS);
    await isolatePod.execute(
      ctx(api),
      { pod: pod({ labels: { 'deployguard.dev/isolated': 'someone-else' } }) },
      ISOLATE,
    );
    expect(api.writes()).to.have.length(1);
  });
  it('a NetworkPolicy of our name that isolates nothing (the tenant wrote it) is replaced', async () => {
    for (const forged of [
      { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
      { ...DENY_ALL, ingress: [{}] },
      { ...DENY_ALL, policyTypes: ['Ingress'] },
      {
        podSelector: { matchLabels: { 'deployguard.dev/isolated': 'u-1', extra: 'x' } },
        policyTypes: ['Ingress', 'Egress'],
      },
    ]) {
      const api = new FakeKubeApi((req) =>
        req.verb === 'GET' ? { ...OURS, spec: forged } : undefined,
      );
      const out = await isolatePod.execute(ctx(api), { pod: pod(LABELLED) }, ISOLATE);
      expect(out.kind, JSON.stringify(forged)).to.equal('success');
      expect(api.calls()).to.deep.equal([`GET ${npPath}/${npName}`, `PUT ${npPath}/${npName}`]);
      const put = api.requests[1]?.body as Json;
      expect(put.spec).to.deep.equal(DENY_ALL);
      expect((put.metadata as Json).resourceVersion).to.equal('7');
    }
  });

  it('is in effect only when the cached NetworkPolicy isolates the pod and the pod carries the label', () => {
    const labelled = pod(LABELLED);
    expect(isolatePod.inEffect({ pod: labelled, isolation: { spec: DENY_ALL } }, ISOLATE)).to.equal(
      true,
    );
    // A label the pod's owner wrote before turning it into a miner proves nothing.
    expect(isolatePod.inEffect({ pod: labelled }, ISOLATE)).to.equal(false);
    expect(
      isolatePod.inEffect({ pod: labelled, isolation: { spec: { podSelector: {} } } }, ISOLATE),
    ).to.equal(false);
    expect(isolatePod.inEffect({ pod: pod(), isolation: { spec: DENY_ALL } }, ISOLATE)).to.equal(
      false,
    );
  });

  it('AlreadyExists on create (a race) still labels; a failed create never labels', async () => {
    const api = new FakeKubeApi(
      failOn(
        'GET',
        npPath,
        apiError(404, 'NotFound'),
        failOn('POST', npPath, apiError(409, 'AlreadyExists')),
      ),
    );
    expect((await isolatePod.execute(ctx(api), { pod: pod() }, ISOLATE)).kind).to.equal('success');
    expect(api.writes().map((r) => r.verb)).to.deep.equal(['POST', 'PATCH']);

    const failing = new FakeKubeApi(
      failOn('GET', npPath, apiError(404, 'NotFound'), failOn('POST', npPath, apiError(500))),
    );
    let thrown: unknown;
    await isolatePod.execute(ctx(failing), { pod: pod() }, ISOLATE).catch((e) => (thrown = e));
    expect(thrown).to.be.instanceOf(Error);
    expect(failing.writes().map((r) => r.verb)).to.deep.equal(['POST']);
  });
  it('a GET failure other than 404 throws before any write', async () => {
    const api = new FakeKubeApi(() => {
      throw apiError(403, 'Forbidden');
    });
    let thrown: unknown;
    await isolatePod.execute(ctx(api), { pod: pod() }, ISOLATE).catch((e) => (thrown = e));
    expect(thrown).to.be.instanceOf(Error);
    expect(api.writes()).to.deep.equal([]);
  });
  it('the pod gone at labelling is a noop', async () => {
    const api = new FakeKubeApi(failOn('PATCH', POD_PATH, apiError(404, 'NotFound'), () => ({})));
    expect((await isolatePod.execute(ctx(api), { pod: pod() }, ISOLATE)).kind).to.equal('noop');
  });
});

describe('CordonNode action', () => {
  it('merge-patches spec.unschedulable with cordoned-by and cordoned-at', async () => {
    const api = new FakeKubeApi();
    const out = await cordonNode.execute(ctx(api), { pod: pod(), node: node() }, CORDON);
    expect(api.requests).to.deep.equal([
      {
        verb: 'PATCH',
        path: '/api/v1/nodes/n1',
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            uid: 'node-uid',
            annotations: {
              'deployguard.dev/cordoned-by': 'p1/team-a/web-1',
              'deployguard.dev/cordoned-at': '2026-11-29T10:00:00Z',
            },
          },
          spec: { unschedulable: true },
        },
      },
    ]);
    expect(out.kind === 'success' && out.event).to.deep.include({
      type: 'Warning',
      reason: 'NodeCordoned',
      action: 'CordonNode',
    });
    expect(out.kind === 'success' && out.event.target).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Node',
      name: 'n1',
      uid: 'node-uid',
    });
  });
  it('is a noop without a request when already unschedulable or no node is known', async () => {
    const api = new FakeKubeApi();
    expect(
      (
        await cordonNode.execute(
          ctx(api),
          { pod: pod(), node: node({ unschedulable: true }) },
          CORDON,
        )
      ).kind,
    ).to.equal('noop');
    expect((await cordonNode.execute(ctx(api), { pod: pod() }, CORDON)).kind).to.equal('noop');
    expect(api.requests).to.deep.equal([]);
  });
  it('a node gone (404) is a noop; 500 throws', async () => {
    const gone = new FakeKubeApi(() => {
      throw apiError(404, 'NotFound');
    });
    expect(
      (await cordonNode.execute(ctx(gone), { pod: pod(), node: node() }, CORDON)).kind,
    ).to.equal('noop');
    const broken = new FakeKubeApi(() => {
      throw apiError(500);
    });
    let thrown: unknown;
    await cordonNode
      .execute(ctx(broken), { pod: pod(), node: node() }, CORDON)
      .catch((e) => (thrown = e));
    expect(thrown).to.be.instanceOf(Error);
  });
});

describe('action registry', () => {
  it('maps every type to its action', () => {
    expect(actionFor(label({}))).to.equal(labelPod);
    expect(actionFor(del())).to.equal(deletePod);
    expect(actionFor(ISOLATE)).to.equal(isolatePod);
    expect(actionFor(CORDON)).to.equal(cordonNode);
    for (const [type, a] of Object.entries(ACTIONS)) expect(a.type).to.equal(type);
  });
  it('actionPermissions() is the non-empty union of what the actions need', () => {
    const perms = actionPermissions();
    expect(perms.length).to.be.greaterThan(0);
    const has = (group: string, resource: string, verb: string) =>
      perms.some((p) => p.group === group && p.resource === resource && p.verbs.includes(verb));
    expect(has('', 'pods', 'patch')).to.equal(true);
    expect(has('', 'pods', 'delete')).to.equal(true);
    expect(has('', 'pods/eviction', 'create')).to.equal(true);
    expect(has('networking.k8s.io', 'networkpolicies', 'create')).to.equal(true);
    expect(has('networking.k8s.io', 'networkpolicies', 'get')).to.equal(true);
    expect(has('', 'nodes', 'patch')).to.equal(true);
  });
});
