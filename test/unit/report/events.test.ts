import { expect } from 'chai';
import { FakeClock } from '../../support/fake-clock.ts';
import { EventRecorder, type EventSpec } from '../../../src/report/events.ts';
import { ApiError } from '../../../src/kube/errors.ts';
import { FakeKubeApi, apiError, type RecordedRequest } from '../../support/fake-kube-api.ts';

const T0 = Date.parse('2026-11-29T10:00:00.250Z');
const MIN = 60_000;

function setup(opts: { burst?: number; ratePerSecond?: number; windowMs?: number } = {}) {
  const clock = new FakeClock({ start: T0 });
  const warnings: string[] = [];
  const api = new FakeKubeApi();
  const rec = new EventRecorder({
    api,
    instance: 'deployguard-7d9f-abcde',
    clock,
    log: { warn: (m) => warnings.push(m), debug: () => {} },
    ...opts,
  });
  return {
    api,
    rec,
    warnings,
    advance: (ms: number) => {
      clock.t += ms;
    },
  };
}

const violation = (name = 'web-1', message = 'violates policy p1: pss.privileged'): EventSpec => ({
  target: { apiVersion: 'v1', kind: 'Pod', name, namespace: 'team-a', uid: `uid-${name}` },
  type: 'Warning',
  reason: 'PolicyViolation',
  message,
});

type Json = Record<string, unknown>;
const body = (r: RecordedRequest | undefined) => r?.body as Json;

describe('EventRecorder', () => {
  it('POSTs a core/v1 Event with the contract fields', async () => {
    const { api, rec } = setup();
    await rec.emit({ ...violation(), action: 'DeletePod' });
    expect(api.requests).to.have.length(1);
    const r = api.requests[0];
    expect(r?.verb).to.equal('POST');
    expect(r?.path).to.equal('/api/v1/namespaces/team-a/events');
    const b = body(r);
    const meta = b.metadata as Record<string, string>;
    expect(meta.namespace).to.equal('team-a');
    expect(meta.name).to.match(/^web-1\.[0-9a-f]{16}$/);
    expect(b).to.deep.include({
      apiVersion: 'v1',
      kind: 'Event',
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: 'web-1',
        namespace: 'team-a',
        uid: 'uid-web-1',
      },
      reason: 'PolicyViolation',
      message: 'violates policy p1: pss.privileged',
      type: 'Warning',
      action: 'DeletePod',
      reportingComponent: 'deployguard.dev/operator',
      reportingInstance: 'deployguard-7d9f-abcde',
      firstTimestamp: '2026-11-29T10:00:00Z',
      lastTimestamp: '2026-11-29T10:00:00Z',
      count: 1,
    });
  });

  it('a cluster-scoped target (Node) gets its event in default, without involvedObject.namespace', async () => {
    const { api, rec } = setup();
    await rec.emit({
      target: { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'nu' },
      type: 'Warning',
      reason: 'NodeCordoned',
      message: 'cordoned',
    });
    expect(api.requests[0]?.path).to.equal('/api/v1/namespaces/default/events');
    expect(body(api.requests[0]).involvedObject).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Node',
      name: 'n1',
      uid: 'nu',
    });
  });

  it('a repeat within the window does not POST again; count is PATCHed at most once a minute', async () => {
    const { api, rec, advance } = setup();
    await rec.emit(violation());
    const name = (body(api.requests[0]).metadata as Record<string, string>).name;
    advance(10_000);
    await rec.emit(violation());
    advance(10_000);
    await rec.emit(violation());
    expect(api.requests).to.have.length(1);
    advance(MIN); // 80 s after the first
    await rec.emit(violation());
    expect(api.requests).to.have.length(2);
    expect(api.requests[1]).to.deep.equal({
      verb: 'PATCH',
      path: `/api/v1/namespaces/team-a/events/${name}`,
      contentType: 'application/merge-patch+json',
      body: { count: 4, lastTimestamp: '2026-11-29T10:01:20Z' },
    });
    advance(30_000);
    await rec.emit(violation());
    expect(api.requests).to.have.length(2);
  });

  it('after the window a repeat is a new event', async () => {
    const { api, rec, advance } = setup({ windowMs: 5 * MIN });
    await rec.emit(violation());
    advance(5 * MIN);
    await rec.emit(violation());
    expect(api.requests.map((r) => r.verb)).to.deep.equal(['POST', 'POST']);
  });

  it('different objects, reasons or messages are different events', async () => {
    const { api, rec } = setup();
    await rec.emit(violation('a'));
    await rec.emit(violation('b'));
    await rec.emit(violation('a', 'other message'));
    await rec.emit({ ...violation('a'), reason: 'ActionSkipped' });
    expect(api.requests.map((r) => r.verb)).to.deep.equal(['POST', 'POST', 'POST', 'POST']);
  });

  it('the rate limit drops new events beyond the burst, and refills over time', async () => {
    const { api, rec, advance } = setup({ burst: 3, ratePerSecond: 1 });
    for (let i = 0; i < 10; i++) await rec.emit(violation(`pod-${i}`));
    expect(api.requests).to.have.length(3);
    advance(1000);
    for (let i = 10; i < 20; i++) await rec.emit(violation(`pod-${i}`));
    expect(api.requests).to.have.length(4);
    advance(60_000);
    for (let i = 20; i < 30; i++) await rec.emit(violation(`pod-${i}`));
    expect(api.requests).to.have.length(7);
  });

  it('what the rate limit holds back is counted and summarised per namespace, policy and reason', async () => {
    const held: string[] = [];
    const api = new FakeKubeApi();
    const rec = new EventRecorder({
      api,
      instance: 'i',
      clock: new FakeClock({ start: T0 }),
      burst: 1,
      ratePerSecond: 0.001,
      log: { warn: () => {}, debug: () => {} },
      onHeldBack: (reason) => held.push(reason),
    });
    for (let i = 0; i < 8; i++) await rec.emit({ ...violation(`pod-${i}`), policy: 'p1' });
    await rec.emit({
      ...violation('other', 'x'),
      target: { ...violation('other').target, namespace: 'team-b' },
      policy: 'p1',
    });
    expect(api.requests).to.have.length(1);
    expect(held).to.have.length(8);
    api.clear();
    await rec.summarizeHeldBack();
    const summaries = api.requests.map((r) => body(r));
    expect(
      summaries.map((b) => [(b.metadata as Json).namespace, b.reason, b.involvedObject]),
    ).to.deep.equal([
      // The API server takes an Event on a Namespace in that namespace only if it names it.
      [
        'team-a',
        'EventsHeldBack',
        { apiVersion: 'v1', kind: 'Namespace', name: 'team-a', namespace: 'team-a' },
      ],
      [
        'team-b',
        'EventsHeldBack',
        { apiVersion: 'v1', kind: 'Namespace', name: 'team-b', namespace: 'team-b' },
      ],
    ]);
    expect(summaries[0]?.message).to.equal(
      '7 PolicyViolation events of policy p1 held back by the event rate limit; pods include pod-1, pod-2, pod-3, pod-4, pod-5',
    );
    // Summarised once: nothing is left for the next call.
    api.clear();
    await rec.summarizeHeldBack();
    expect(api.requests).to.deep.equal([]);
  });

  it('bounds the message', async () => {
    const { api, rec } = setup();
    await rec.emit(violation('a', 'x'.repeat(5000)));
    const m = body(api.requests[0]).message as string;
    expect(m.length).to.be.at.most(1024);
    expect(m.endsWith('…')).to.equal(true);
  });

  it('a failing API never throws; a failed POST is tried again next time', async () => {
    const { api, rec, warnings } = setup();
    api.handler = () => {
      throw apiError(500, 'InternalError');
    };
    await rec.emit(violation());
    expect(warnings).to.deep.equal(['could not write event']);
    api.handler = () => undefined;
    await rec.emit(violation());
    expect(api.requests.map((r) => r.verb)).to.deep.equal(['POST', 'POST']);
  });

  it('a namespace being deleted refuses its Events: logged at debug, not as a warning', async () => {
    const { api, rec, warnings } = setup();
    const debug: string[] = [];
    const quiet = new EventRecorder({
      api,
      instance: 'deployguard-7d9f-abcde',
      clock: new FakeClock({ start: T0 }),
      log: { warn: (m) => warnings.push(m), debug: (m) => debug.push(m) },
    });
    // As the NamespaceLifecycle admission answers.
    const refused = apiError(403, 'Forbidden');
    const terminating = new ApiError({
      status: 403,
      reason: 'Forbidden',
      message: 'unable to create new content in namespace team-a because it is being terminated',
      verb: 'POST',
      path: '/api/v1/namespaces/team-a/events',
      body: {
        ...refused.body,
        details: { causes: [{ reason: 'NamespaceTerminating', field: 'metadata.namespace' }] },
      },
    });
    api.handler = () => {
      throw terminating;
    };
    await quiet.emit(violation());
    expect(warnings).to.deep.equal([]);
    expect(debug).to.deep.equal(['event not written: its namespace is being deleted']);
    // Any other refusal is still a warning, 403s included.
    api.handler = () => {
      throw apiError(403, 'Forbidden');
    };
    await rec.emit(violation('web-2'));
    expect(warnings).to.deep.equal(['could not write event']);
  });

  it('a failing count PATCH never throws either', async () => {
    const { api, rec, advance } = setup();
    await rec.emit(violation());
    api.handler = () => {
      throw new Error('socket hang up');
    };
    advance(2 * MIN);
    await rec.emit(violation());
    expect(api.requests.map((r) => r.verb)).to.deep.equal(['POST', 'PATCH']);
  });
});
