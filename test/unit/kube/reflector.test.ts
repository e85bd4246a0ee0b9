import { expect } from 'chai';
import { systemClock } from '../../../src/base/clock.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { RecordingLog } from '../../support/recording-log.ts';
import { Backoff } from '../../../src/kube/backoff.ts';
import { ApiError } from '../../../src/kube/errors.ts';
import {
  Reflector,
  type Change,
  type ReflectorMetrics,
  type ReflectorOptions,
} from '../../../src/kube/reflector.ts';
import { Store } from '../../../src/kube/store.ts';
import {
  FakeKubeApi,
  events,
  hang,
  httpError,
  list,
  pod,
  refuse,
  status,
} from '../../support/fake-kube-api.ts';

class RecordingMetrics implements ReflectorMetrics {
  events: string[] = [];
  restarts: string[] = [];
  last = 0;
  watchEvent(_r: string, type: string): void {
    this.events.push(type);
  }
  watchRestart(_r: string, reason: string): void {
    this.restarts.push(reason);
  }
  lastWatchEvent(_r: string, s: number): void {
    this.last = s;
  }
}

/** Polls (on the macrotask queue, no real delay) until cond holds; fails after ~2 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

interface P {
  key: string;
  rv: string;
  labels: Record<string, string>;
}

function trim(raw: unknown): P | undefined {
  const m = (
    raw as {
      metadata: {
        namespace: string;
        name: string;
        resourceVersion: string;
        labels?: Record<string, string>;
      };
    }
  ).metadata;
  return { key: `${m.namespace}/${m.name}`, rv: m.resourceVersion, labels: m.labels ?? {} };
}

function setup(over: Partial<ReflectorOptions<P>> = {}) {
  const api = new FakeKubeApi();
  const store = new Store<P>();
  const changes: Change<P>[] = [];
  const metrics = new RecordingMetrics();
  const log = new RecordingLog();
  const clock = new FakeClock({ start: 1_000_000, instantSleeps: true });
  const reflector = new Reflector<P>({
    resource: 'pods',
    api,
    listPath: '/api/v1/pods',
    transform: trim,
    store,
    onChange: (c) => changes.push(c),
    metrics,
    log,
    pageSize: 2,
    backoff: new Backoff({ random: () => 0, clock }),
    random: () => 0,
    clock,
    ...over,
  });
  return { api, store, changes, metrics, log, sleeps: clock.sleeps, clock, reflector };
}

const summary = (cs: Change<P>[]): string[] =>
  cs.map((c) => `${c.type} ${c.key}${c.fromList ? ' (list)' : ''}`);

describe('Reflector', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });
  function started(t: ReturnType<typeof setup>): ReturnType<typeof setup> {
    t.reflector.start();
    stop = () => t.reflector.stop();
    return t;
  }

  it('lists page by page, then watches from the list resourceVersion with bookmarks', async () => {
    const t = setup({ watchTimeoutSeconds: [300, 600] });
    const all = [
      pod('a', '1', '5'),
      pod('a', '2', '6'),
      pod('b', '3', '7'),
      pod('c', '4', '8'),
      pod('c', '5', '9'),
    ];
    t.api.listHandler = (q) => {
      const from = q.continue ? Number(q.continue) : 0;
      const next = from + 2 < all.length ? String(from + 2) : undefined;
      return list(all.slice(from, from + 2), '42', next);
    };
    started(t);
    await until('synced', () => t.reflector.hasSynced() && t.api.watches.length === 1);
    expect(t.api.lists).to.deep.equal([
      { limit: 2 },
      { limit: 2, continue: '2' },
      { limit: 2, continue: '4' },
    ]);
    expect(t.store.size).to.equal(5);
    expect(t.store.keysInNamespace('c')).to.deep.equal(['c/4', 'c/5']);
    expect(summary(t.changes)).to.deep.equal([
      'added a/1 (list)',
      'added a/2 (list)',
      'added b/3 (list)',
      'added c/4 (list)',
      'added c/5 (list)',
    ]);
    expect(t.reflector.lastResourceVersion()).to.equal('42');
    expect(t.api.watches[0]).to.deep.equal({
      resourceVersion: '42',
      allowWatchBookmarks: true,
      timeoutSeconds: 300,
    });
  });

  it('passes the selector to list and watch and randomises timeoutSeconds in range', async () => {
    const t = setup({
      query: { labelSelector: 'app=x' },
      watchTimeoutSeconds: [5, 10],
      random: () => 0.99,
    });
    started(t);
    await until('watching', () => t.api.watches.length === 1);
    expect(t.api.lists[0]).to.deep.equal({ labelSelector: 'app=x', limit: 2 });
    expect(t.api.watches[0]).to.include({ labelSelector: 'app=x', timeoutSeconds: 10 });
  });

  it('applies watch events: added, updated with old, deleted with the last object', async () => {
    const t = setup();
    t.api.listHandler = () => list([pod('a', 'x', '5')], '5');
    t.api.scripts.push(
      events([
        { type: 'ADDED', object: pod('a', 'y', '6') },
        { type: 'MODIFIED', object: pod('a', 'x', '7', { l: '1' }) },
        { type: 'DELETED', object: pod('a', 'y', '8', { gone: 'yes' }) },
      ]),
    );
    started(t);
    await until('3 events', () => t.changes.length === 4);
    expect(summary(t.changes)).to.deep.equal([
      'added a/x (list)',
      'added a/y',
      'updated a/x',
      'deleted a/y',
    ]);
    expect(t.changes[2]?.old?.rv).to.equal('5');
    expect(t.changes[2]?.object.labels).to.deep.equal({ l: '1' });
    expect(t.changes[3]?.object.labels).to.deep.equal({ gone: 'yes' });
    expect(t.changes[3]?.old?.rv).to.equal('6');
    expect([...t.store.keys()]).to.deep.equal(['a/x']);
    expect(t.metrics.events).to.deep.equal(['ADDED', 'MODIFIED', 'DELETED']);
    expect(t.metrics.last).to.equal(1000);
  });

  it('relists on a watch ERROR 410 and diffs the new list against the store', async () => {
    const t = setup();
    t.api.listHandler = (_q, call) =>
      call === 1
        ? list([pod('a', 'keep', '5'), pod('a', 'gone', '5')], '5')
        : list([pod('a', 'keep', '5'), pod('a', 'new', '9')], '9');
    t.api.scripts.push(events([{ type: 'ERROR', object: status(410, 'Expired') }]));
    started(t);
    await until('relist', () => t.api.watches.length === 2);
    expect(t.api.lists).to.have.length(2);
    expect(t.metrics.restarts).to.deep.equal(['gone']);
    expect(summary(t.changes.slice(2))).to.deep.equal([
      'updated a/keep (list)',
      'added a/new (list)',
      'deleted a/gone (list)',
    ]);
    expect(t.changes[2]?.old?.rv).to.equal('5');
    expect(t.changes[4]?.object.rv).to.equal('5');
    expect(t.api.watches[1]?.resourceVersion).to.equal('9');
  });

  it('falls back to one unpaginated list when a continue token expires', async () => {
    const t = setup();
    t.api.listHandler = (q) => {
      if (q.continue) return httpError(410, 'Expired');
      if (q.limit) return list([pod('a', '1', '3'), pod('a', '2', '3')], '3', 'tok');
      return list([pod('a', '1', '4'), pod('a', '2', '4'), pod('a', '3', '4')], '4');
    };
    started(t);
    await until('watching', () => t.api.watches.length === 1);
    expect(t.api.lists).to.deep.equal([{ limit: 2 }, { limit: 2, continue: 'tok' }, {}]);
    expect(t.store.size).to.equal(3);
    expect(t.changes).to.have.length(3);
    expect(t.reflector.lastResourceVersion()).to.equal('4');
  });

  for (const [name, err, reason, minDelay] of [
    ['503', httpError(503, 'ServiceUnavailable'), 'server_error', 800],
    ['429 with Retry-After 5', httpError(429, 'TooManyRequests', 5), 'throttled', 5000],
    [
      'a reset connection',
      ApiError.transport('ECONNRESET', 'reset', 'WATCH', '/api/v1/pods'),
      'network',
      800,
    ],
    [
      'an inactivity timeout',
      ApiError.transport('Timeout', 'silent', 'WATCH', '/api/v1/pods'),
      'timeout',
      800,
    ],
    ['401', httpError(401, 'Unauthorized'), 'unauthorized', 800],
  ] as const) {
    it(`backs off after ${name} and resumes the watch from the last resourceVersion`, async () => {
      const t = setup();
      t.api.listHandler = () => list([], '10');
      t.api.scripts.push(
        events([{ type: 'ADDED', object: pod('a', 'x', '11') }], err),
        refuse(err),
      );
      started(t);
      await until('third watch', () => t.api.watches.length === 3);
      expect(t.api.lists).to.have.length(1);
      expect(t.api.watches.map((q) => q.resourceVersion)).to.deep.equal(['10', '11', '11']);
      expect(t.metrics.restarts).to.deep.equal([reason, reason]);
      expect(t.sleeps).to.have.length(2);
      expect(t.sleeps[0]).to.equal(minDelay);
      expect(t.sleeps[1]).to.equal(Math.max(1600, minDelay));
    });
  }

  it('caps Retry-After at the maximum backoff', async () => {
    const t = setup();
    t.api.scripts.push(refuse(httpError(429, 'TooManyRequests', 3600)));
    started(t);
    await until('second watch', () => t.api.watches.length === 2);
    expect(t.sleeps).to.deep.equal([30_000]);
  });

  it('retries a failed list with backoff and nothing is terminal', async () => {
    const t = setup();
    t.api.listHandler = (_q, call) =>
      call <= 3 ? httpError(403, 'Forbidden') : list([pod('a', 'x', '2')], '2');
    started(t);
    await until('synced', () => t.reflector.hasSynced());
    expect(t.metrics.restarts).to.deep.equal(['forbidden', 'forbidden', 'forbidden']);
    expect(t.sleeps).to.deep.equal([800, 1600, 3200]);
    expect(t.store.size).to.equal(1);
  });

  it('re-watches at once from the last resourceVersion when the server ends the stream', async () => {
    const t = setup();
    t.api.listHandler = () => list([], '10');
    t.api.scripts.push(events([{ type: 'ADDED', object: pod('a', 'x', '11') }]));
    started(t);
    await until('second watch', () => t.api.watches.length === 2);
    expect(t.sleeps).to.deep.equal([]);
    expect(t.metrics.restarts).to.deep.equal(['closed']);
    expect(t.api.watches[1]?.resourceVersion).to.equal('11');
  });

  it('backs off when a watch ends at once without any event', async () => {
    const t = setup();
    t.api.scripts.push(events([]));
    started(t);
    await until('second watch', () => t.api.watches.length === 2);
    expect(t.sleeps).to.deep.equal([800]);
    expect(t.metrics.restarts).to.deep.equal(['closed']);
  });

  it('advances the resourceVersion on bookmarks without changes or transforms', async () => {
    let transforms = 0;
    const t = setup({ transform: (raw) => (transforms++, trim(raw)) });
    t.api.listHandler = () => list([], '10');
    t.api.scripts.push(
      events([
        {
          type: 'BOOKMARK',
          object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '99' } },
        },
      ]),
    );
    started(t);
    await until('second watch', () => t.api.watches.length === 2);
    expect(t.api.watches[1]?.resourceVersion).to.equal('99');
    expect(t.reflector.lastResourceVersion()).to.equal('99');
    expect(t.changes).to.deep.equal([]);
    expect(transforms).to.equal(0);
    expect(t.metrics.events).to.deep.equal(['BOOKMARK']);
  });

  it('does not cache objects the transform drops or throws on, and drops them if cached', async () => {
    const t = setup({
      transform: (raw) => {
        const p = trim(raw);
        if (p?.labels.bad) throw new Error('boom');
        return p?.labels.skip ? undefined : p;
      },
    });
    t.api.listHandler = () =>
      list(
        [
          pod('a', 'ok', '1'),
          pod('a', 'skip', '1', { skip: '1' }),
          pod('a', 'bad', '1', { bad: '1' }),
        ],
        '1',
      );
    t.api.scripts.push(
      events([
        { type: 'ADDED', object: pod('a', 'bad2', '2', { bad: '1' }) },
        { type: 'MODIFIED', object: pod('a', 'ok', '3', { skip: '1' }) },
        { type: 'ADDED', object: { metadata: {} } },
        { type: 'ADDED', object: pod('a', 'after', '4') },
      ]),
    );
    started(t);
    await until('after', () => t.store.has('a/after'));
    expect([...t.store.keys()]).to.deep.equal(['a/after']);
    expect(summary(t.changes)).to.deep.equal([
      'added a/ok (list)',
      'deleted a/ok',
      'added a/after',
    ]);
    expect(t.log.lines.filter((l) => l.msg.includes('transform threw'))).to.have.length(2);
  });

  it('survives a throwing onChange and logs it', async () => {
    let calls = 0;
    const t = setup({
      onChange: () => {
        calls++;
        throw new Error('handler bug');
      },
    });
    t.api.listHandler = () => list([pod('a', '1', '1')], '1');
    t.api.scripts.push(
      events([
        { type: 'ADDED', object: pod('a', '2', '2') },
        { type: 'ADDED', object: pod('a', '3', '3') },
      ]),
    );
    started(t);
    await until('three calls', () => calls === 3);
    expect(t.store.size).to.equal(3);
    expect(t.log.lines.filter((l) => l.level === 'error')).to.have.length(3);
  });

  it('stop() during a watch resolves promptly and ends the loop', async () => {
    const t = setup();
    t.api.scripts.push(hang());
    t.reflector.start();
    await until('watching', () => t.api.watches.length === 1);
    const t0 = Date.now();
    await t.reflector.stop();
    expect(Date.now() - t0).to.be.lessThan(100);
    await new Promise((r) => setTimeout(r, 5));
    expect(t.api.watches).to.have.length(1);
    expect(t.metrics.restarts).to.deep.equal([]);
  });

  it('stop() during a backoff resolves promptly', async () => {
    const t = setup({
      clock: systemClock,
      backoff: new Backoff({ initialMs: 60_000, maxMs: 60_000, random: () => 0 }),
    });
    t.api.scripts.push(refuse(httpError(500, 'InternalError')));
    t.reflector.start();
    await until('failed once', () => t.metrics.restarts.length === 1);
    const t0 = Date.now();
    await t.reflector.stop();
    expect(Date.now() - t0).to.be.lessThan(100);
    expect(t.api.watches).to.have.length(1);
  });

  it('healthy() turns false after failing past maxBackoff + grace, and true again on success', async () => {
    const t = setup({ unhealthyAfterMs: 60_000 });
    let failing = true;
    t.api.listHandler = () => (failing ? httpError(503, 'ServiceUnavailable') : list([], '1'));
    started(t);
    await until('a failure', () => t.metrics.restarts.length >= 1);
    expect(t.reflector.healthy()).to.equal(true);
    t.clock.t += 60_001;
    expect(t.reflector.healthy()).to.equal(false);
    failing = false;
    await until('synced', () => t.reflector.hasSynced());
    expect(t.reflector.healthy()).to.equal(true);
    expect(t.reflector.hasSynced()).to.equal(true);
  });

  it('stays healthy through an idle watch and a quickly healed failure', async () => {
    const t = setup();
    t.api.scripts.push(refuse(httpError(500, 'InternalError')), hang());
    started(t);
    await until('second watch', () => t.api.watches.length === 2);
    t.clock.t += 10 * 60_000;
    expect(t.reflector.healthy()).to.equal(true);
  });
  it('healthy() turns false when every watch dies right after opening', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const fake = new FakeClock({ start: 1_000_000 });
    const t = setup({
      clock: {
        now: fake.now,
        setTimer: fake.setTimer,
        sleep: async (ms) => {
          fake.sleeps.push(ms);
          fake.t += ms;
          if (fake.sleeps.length === 7) await gate;
          await new Promise((r) => setTimeout(r, 0));
        },
      },
      backoff: new Backoff({ random: () => 0, clock: fake }),
    });
    t.clock = fake;
    t.sleeps = fake.sleeps;
    for (let i = 0; i < 7; i++) t.api.scripts.push(events([], httpError(500, 'InternalError')));
    started(t);
    await until('seven backoffs', () => t.sleeps.length === 7);
    expect(t.sleeps.reduce((a, b) => a + b)).to.be.greaterThan(60_000);
    expect(t.reflector.healthy()).to.equal(false);
    release();
    await until('a lasting watch', () => t.api.watches.length === 8);
    t.clock.t += 1000;
    expect(t.reflector.healthy()).to.equal(true);
  });
});
