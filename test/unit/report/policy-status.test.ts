import { expect } from 'chai';
import { FakeClock } from '../../support/fake-clock.ts';
import { jsonEqual } from '../../../src/base/json.ts';
import { policySchema } from '../../../src/api/schema.ts';
import {
  PolicyStatusBook,
  type Readiness,
  type StatusInputs,
} from '../../../src/report/policy-status.ts';
import { FakeKubeApi, apiError } from '../../support/fake-kube-api.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const READY: Readiness = { ready: true, reason: 'Accepted', message: '' };
const INVALID: Readiness = {
  ready: false,
  reason: 'InvalidSpec',
  message: 'spec.rules.commands.deniedPatterns[0]: invalid regex',
};
const STATUS_PATH = '/apis/deployguard.dev/v1alpha1/containerdeploymentpolicies/p1/status';

function setup(minIntervalMs = 2000) {
  const clock = new FakeClock({ start: T0 });
  const api = new FakeKubeApi();
  const book = new PolicyStatusBook({ api, clock, minIntervalMs });
  const inputs = { violating: 0, open: false };
  const si: StatusInputs = {
    violatingPods: () => inputs.violating,
    breakerOpen: () => inputs.open,
  };
  return {
    api,
    book,
    inputs,
    si,
    advance: (ms: number) => {
      clock.t += ms;
    },
  };
}

describe('PolicyStatusBook: desired()', () => {
  it('is undefined for a policy never observed', () => {
    const { book, si } = setup();
    expect(book.desired('nope', si)).to.equal(undefined);
  });

  it('a fresh ready policy: the docs/api.md section 1 shape', () => {
    const { book, si, inputs } = setup();
    book.observe('p1', 3, {}, READY);
    inputs.violating = 2;
    expect(book.desired('p1', si)).to.deep.equal({
      observedGeneration: 3,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          observedGeneration: 3,
          lastTransitionTime: '2026-11-29T10:00:00Z',
          reason: 'Accepted',
          message: '',
        },
      ],
      violatingPods: 2,
      totalViolations: 0,
      actions: { Label: 0, Isolate: 0, DeletePod: 0, CordonNode: 0 },
      totalActions: 0,
      breaker: 'Closed',
    });
  });

  it('counts violations and actions, lastViolationTime, breaker and looping workloads', () => {
    const { book, si, inputs } = setup();
    book.observe('p1', 1, {}, READY);
    book.violation('p1', new Date('2026-11-29T09:00:00.900Z'), 2);
    book.violation('p1', new Date('2026-11-29T09:30:00Z'));
    book.action('p1', 'DeletePod');
    book.action('p1', 'DeletePod');
    book.action('p1', 'Label');
    expect(book.looping('p1', { kind: 'Deployment', namespace: 'a', name: 'web' })).to.equal(true);
    expect(book.looping('p1', { kind: 'Deployment', namespace: 'a', name: 'web' })).to.equal(false);
    inputs.open = true;
    const d = book.desired('p1', si) as Record<string, unknown>;
    expect(d).to.deep.include({
      totalViolations: 3,
      actions: { Label: 1, Isolate: 0, DeletePod: 2, CordonNode: 0 },
      totalActions: 3,
      breaker: 'Open',
      lastViolationTime: '2026-11-29T09:30:00Z',
      loopingWorkloads: [{ kind: 'Deployment', namespace: 'a', name: 'web' }],
    });
    expect(book.totals('p1')).to.deep.equal({
      totalViolations: 3,
      actions: { Label: 1, Isolate: 0, DeletePod: 2, CordonNode: 0 },
    });
  });

  it('names the namespaces whose own breaker is open, and only when there are any', () => {
    const { book, si } = setup();
    book.observe('p1', 1, {}, READY);
    expect(book.desired('p1', si)).to.not.have.property('throttledNamespaces');
    const withThrottled = { ...si, throttledNamespaces: () => ['tenant-a'] };
    expect(book.desired('p1', withThrottled)).to.deep.include({
      breaker: 'Closed',
      throttledNamespaces: ['tenant-a'],
    });
  });

  it('an invalid policy: Ready=False InvalidSpec with the message, and the pods its last valid generation still finds', () => {
    const { book, si, inputs } = setup();
    inputs.violating = 5;
    book.observe('p1', 2, {}, INVALID);
    const d = book.desired('p1', si) as Record<string, unknown>;
    expect(d.conditions).to.deep.equal([
      {
        type: 'Ready',
        status: 'False',
        observedGeneration: 2,
        lastTransitionTime: '2026-11-29T10:00:00Z',
        reason: 'InvalidSpec',
        message: INVALID.message,
      },
    ]);
    // Its last valid generation may still be enforced (policy-registry.ts): its pods still show.
    expect(d.violatingPods).to.equal(5);
  });

  it('keeps lastTransitionTime while the status is unchanged, and moves it when it changes', () => {
    const { book, si, advance } = setup();
    const prior = {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: '2026-01-01T00:00:00Z',
          reason: 'Accepted',
          message: '',
        },
      ],
    };
    book.observe('p1', 1, prior, READY);
    advance(1000);
    const cond = () => ((book.desired('p1', si)?.conditions as unknown[])[0] ?? {}) as object;
    expect(cond()).to.include({ lastTransitionTime: '2026-01-01T00:00:00Z' });
    book.observe('p1', 2, prior, INVALID);
    expect(cond()).to.include({ status: 'False', lastTransitionTime: '2026-11-29T10:00:01Z' });
  });

  it('observe seeds counters with the max of ours and the cluster', () => {
    const { book, si } = setup();
    book.observe(
      'p1',
      1,
      {
        totalViolations: 17,
        actions: { Label: 2, DeletePod: 5, CordonNode: 1, Bogus: 9 },
        lastViolationTime: '2026-11-29T09:00:00Z',
        loopingWorkloads: [{ kind: 'ReplicaSet', namespace: 'a', name: 'rs' }, { kind: 1 }],
      },
      READY,
    );
    book.violation('p1', new Date('2026-11-29T09:59:00Z'));
    book.action('p1', 'Isolate');
    // Our own write coming back (lower than what we hold now) changes nothing.
    book.observe('p1', 1, { totalViolations: 17, actions: { Label: 2 } }, READY);
    const d = book.desired('p1', si) as Record<string, unknown>;
    expect(d).to.deep.include({
      totalViolations: 18,
      actions: { Label: 2, Isolate: 1, DeletePod: 5, CordonNode: 1 },
      totalActions: 9,
      lastViolationTime: '2026-11-29T09:59:00Z',
      loopingWorkloads: [{ kind: 'ReplicaSet', namespace: 'a', name: 'rs' }],
    });
    // A later leader's higher counters win.
    book.observe('p1', 1, { totalViolations: 100, actions: { DeletePod: 50 } }, READY);
    expect(book.totals('p1')).to.deep.equal({
      totalViolations: 100,
      actions: { Label: 2, Isolate: 1, DeletePod: 50, CordonNode: 1 },
    });
  });

  it('hostile counters in the cluster are ignored', () => {
    const { book } = setup();
    book.observe(
      'p1',
      1,
      { totalViolations: -5, actions: { Label: 'many', DeletePod: Infinity, Isolate: 2.7 } },
      READY,
    );
    expect(book.totals('p1')).to.deep.equal({
      totalViolations: 0,
      actions: { Label: 0, Isolate: 2, DeletePod: 0, CordonNode: 0 },
    });
  });

  it('violation/action/looping on an unknown policy are ignored', () => {
    const { book } = setup();
    book.violation('x', new Date(T0));
    book.action('x', 'Label');
    expect(book.looping('x', { kind: 'K', namespace: 'n', name: 'w' })).to.equal(false);
    expect(book.totals('x')).to.equal(undefined);
  });

  it('every field desired() writes is in the CRD status schema (nothing pruned, no write loop)', () => {
    const { book, si } = setup();
    book.observe('p1', 1, {}, READY);
    book.violation('p1', new Date(T0));
    book.looping('p1', { kind: 'Deployment', namespace: 'a', name: 'w' });
    const d = book.desired('p1', si) as Record<string, unknown>;
    const props = policySchema.properties?.status?.properties ?? {};
    for (const k of Object.keys(d)) expect(props, k).to.have.property(k);
    const condProps = props.conditions?.items as { properties?: Record<string, unknown> };
    const cond = (d.conditions as Record<string, unknown>[])[0] ?? {};
    for (const k of Object.keys(cond)) expect(condProps.properties, k).to.have.property(k);
  });
});

describe('PolicyStatusBook: flush()', () => {
  it('writes a merge patch of the whole status to the status subresource', async () => {
    const { api, book, si } = setup();
    book.observe('p1', 1, {}, READY);
    const r = await book.flush(si);
    expect(r).to.deep.equal({ written: ['p1'], failed: [] });
    expect(api.requests).to.have.length(1);
    expect(api.requests[0]).to.deep.include({
      verb: 'PATCH',
      path: STATUS_PATH,
      contentType: 'application/merge-patch+json',
    });
    expect(api.requests[0]?.body).to.deep.equal({ status: book.desired('p1', si) });
  });

  it('writes nothing when the cluster already has the desired status', async () => {
    const { api, book, si } = setup();
    book.observe('p1', 1, {}, READY);
    const want = book.desired('p1', si) as Record<string, unknown>;
    book.observe('p1', 1, JSON.parse(JSON.stringify(want)), READY);
    expect((await book.flush(si)).written).to.deep.equal([]);
    expect(api.requests).to.deep.equal([]);
  });

  it('writes only when changed, and at most once per interval', async () => {
    const { api, book, si, advance } = setup(2000);
    book.observe('p1', 1, {}, READY);
    await book.flush(si);
    advance(100);
    await book.flush(si); // unchanged
    book.violation('p1', new Date(T0));
    await book.flush(si); // changed, but within the interval
    expect(api.requests).to.have.length(1);
    book.violation('p1', new Date(T0));
    advance(1900);
    await book.flush(si);
    expect(api.requests).to.have.length(2);
    expect(
      (api.requests[1]?.body as { status: { totalViolations: number } }).status.totalViolations,
    ).to.equal(2);
    advance(5000);
    await book.flush(si); // nothing new
    expect(api.requests).to.have.length(2);
  });

  it('the echo of our own write through the watch changes nothing', async () => {
    const { api, book, si, advance } = setup();
    book.observe('p1', 1, {}, READY);
    book.violation('p1', new Date(T0));
    await book.flush(si);
    const written = (api.requests[0]?.body as { status: Record<string, unknown> }).status;
    advance(60_000);
    book.observe('p1', 1, written, READY);
    await book.flush(si);
    expect(api.requests).to.have.length(1);
  });

  it('returns failures without throwing, and retries after the interval', async () => {
    const { api, book, si, advance } = setup();
    book.observe('p1', 1, {}, READY);
    book.observe('p2', 1, {}, READY);
    api.handler = (req) => {
      if (req.path.includes('/p1/')) throw apiError(500, 'InternalError', req);
      return {};
    };
    const r = await book.flush(si);
    expect(r.written).to.deep.equal(['p2']);
    expect(r.failed.map(([n]) => n)).to.deep.equal(['p1']);
    api.handler = () => ({});
    advance(2000);
    expect((await book.flush(si)).written).to.deep.equal(['p1']);
  });

  it('forget drops the policy', async () => {
    const { api, book, si } = setup();
    book.observe('p1', 1, {}, READY);
    book.forget('p1');
    await book.flush(si);
    expect(api.requests).to.deep.equal([]);
  });
});

describe('jsonEqual', () => {
  it('is deep equality on JSON ignoring key order and undefined fields', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).to.equal(true);
    expect(jsonEqual({ a: 1, u: undefined }, { a: 1 })).to.equal(true);
    expect(jsonEqual({ a: 1 }, { a: 2 })).to.equal(false);
    expect(jsonEqual([1, 2], [2, 1])).to.equal(false);
    expect(jsonEqual({ a: [] }, { a: {} })).to.equal(false);
    expect(jsonEqual(undefined, [])).to.equal(false);
    expect(jsonEqual('1', 1)).to.equal(false);
  });
});
