import { expect } from 'chai';
import fc from 'fast-check';
import { backoffDelay, WorkQueue } from '../../../src/runtime/workqueue.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function newQueue(timers = new FakeClock()): WorkQueue {
  return new WorkQueue({ clock: timers });
}

describe('WorkQueue', () => {
  it('queues a key added many times while waiting once', async () => {
    const q = newQueue();
    for (let i = 0; i < 5; i++) q.add('a');
    q.add('b');
    expect(q.len()).to.equal(2);
    expect(await q.get()).to.equal('a');
    expect(await q.get()).to.equal('b');
    expect(q.len()).to.equal(0);
  });

  it('re-queues a key added during processing exactly once, after done()', async () => {
    const q = newQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    // Not handed out while still being processed.
    expect(q.len()).to.equal(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await flush();
    expect(second).to.equal(undefined);
    q.done(key as string);
    await flush();
    expect(second).to.equal('a');
    q.done('a');
    expect(q.len()).to.equal(0);
  });

  it('hands a key to a waiting get() and ignores done() for keys not being processed', async () => {
    const q = newQueue();
    const waiting = q.get();
    q.add('a');
    expect(await waiting).to.equal('a');
    q.add('b');
    q.done('b'); // not processing: must not queue 'b' twice
    expect(q.len()).to.equal(1);
  });

  it('never hands a key to two workers and loses no add (random interleavings)', async () => {
    type Op = { kind: 'add'; key: string } | { kind: 'step'; worker: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('a', 'b', 'c', 'd') }),
      fc.record({ kind: fc.constant('step' as const), worker: fc.integer({ min: 0, max: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops) => {
        const q = newQueue();
        // Per worker: undefined = idle, 'waiting' = in get(), else the key it holds.
        const holds: (string | undefined)[] = [undefined, undefined, undefined, undefined];
        const handed: { key: string; at: number }[] = [];
        const doubles: string[] = [];
        let clock = 0;
        const startGet = (w: number): void => {
          holds[w] = 'waiting';
          void q.get().then((key) => {
            if (key === undefined) return void (holds[w] = undefined);
            if (holds.includes(key)) doubles.push(key);
            holds[w] = key;
            handed.push({ key, at: clock++ });
          });
        };
        const adds: { key: string; at: number }[] = [];
        for (const o of ops) {
          if (o.kind === 'add') {
            adds.push({ key: o.key, at: clock++ });
            q.add(o.key);
          } else {
            const h = holds[o.worker];
            if (h === undefined) startGet(o.worker);
            else if (h !== 'waiting') {
              holds[o.worker] = undefined;
              q.done(h);
            }
          }
          await flush();
        }
        // Drain: finish everything held, then keep getting until the queue is empty.
        q.shutDown();
        for (let round = 0; round < 20; round++) {
          for (let w = 0; w < holds.length; w++) {
            const h = holds[w];
            if (h !== undefined && h !== 'waiting') {
              holds[w] = undefined;
              q.done(h);
            }
            if (holds[w] === undefined && q.len() > 0) startGet(w);
          }
          await flush();
        }
        expect(doubles, 'keys handed to two workers at once').to.deep.equal([]);
        expect(q.len()).to.equal(0);
        for (const a of adds) {
          expect(
            handed.some((h) => h.key === a.key && h.at > a.at),
            `add of ${a.key} was never processed`,
          ).to.equal(true);
        }
        for (const key of ['a', 'b', 'c', 'd']) {
          const n = handed.filter((h) => h.key === key).length;
          expect(n).to.be.at.most(adds.filter((a) => a.key === key).length);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('backs off exponentially per key, capped, and forget() resets', () => {
    const timers = new FakeClock();
    const q = new WorkQueue({
      rateLimiter: { baseDelayMs: 5, maxDelayMs: 100 },
      clock: timers,
    });
    for (let i = 0; i < 7; i++) {
      q.addRateLimited('a');
      timers.advance(1000); // let each delayed add land so the next one schedules afresh
    }
    expect(timers.delays).to.deep.equal([5, 10, 20, 40, 80, 100, 100]);
    expect(q.numRequeues('a')).to.equal(7);
    expect(q.numRequeues('b')).to.equal(0);
    q.forget('a');
    expect(q.numRequeues('a')).to.equal(0);
    q.addRateLimited('a');
    expect(timers.delays.at(-1)).to.equal(5);
  });

  it('defaults to 5 ms base and a 5 minute cap, without overflow', () => {
    expect(backoffDelay(0, 5, 300_000)).to.equal(5);
    expect(backoffDelay(3, 5, 300_000)).to.equal(40);
    expect(backoffDelay(20, 5, 300_000)).to.equal(300_000);
    expect(backoffDelay(1e9, 5, 300_000)).to.equal(300_000);
  });

  it('makes a rate-limited key available only after its delay', async () => {
    const timers = new FakeClock();
    const q = newQueue(timers);
    q.addRateLimited('a');
    q.addRateLimited('a');
    expect(q.len()).to.equal(0);
    timers.advance(4);
    expect(q.len()).to.equal(0);
    timers.advance(1);
    expect(q.len()).to.equal(1);
    expect(await q.get()).to.equal('a');
  });

  it('keeps the earliest time when a key is added after delays more than once', () => {
    const timers = new FakeClock();
    const q = newQueue(timers);
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 200);
    timers.advance(49);
    expect(q.len()).to.equal(0);
    timers.advance(1);
    expect(q.len()).to.equal(1);
    timers.advance(1000);
    expect(q.len()).to.equal(1);
    expect(timers.pending()).to.equal(0);
  });

  it('adds at once for a zero or negative delay', () => {
    const q = newQueue();
    q.addAfter('a', 0);
    q.addAfter('b', -5);
    expect(q.len()).to.equal(2);
  });

  it('after shutDown: refuses adds, drops delayed keys, hands out what is queued, then undefined', async () => {
    const timers = new FakeClock();
    const q = newQueue(timers);
    q.add('a');
    q.addAfter('late', 10);
    q.shutDown();
    expect(q.shuttingDown()).to.equal(true);
    q.add('b');
    expect(timers.pending()).to.equal(0);
    timers.advance(100);
    expect(await q.get()).to.equal('a');
    expect(await q.get()).to.equal(undefined);
  });

  it('wakes waiting getters with undefined on shutDown', async () => {
    const q = newQueue();
    const a = q.get();
    const b = q.get();
    q.shutDown();
    expect(await a).to.equal(undefined);
    expect(await b).to.equal(undefined);
  });

  it('still re-queues a key marked during processing when done() comes after shutDown', async () => {
    const q = newQueue();
    q.add('a');
    await q.get();
    q.add('a');
    q.shutDown();
    q.done('a');
    expect(await q.get()).to.equal('a');
    q.done('a');
    expect(await q.get()).to.equal(undefined);
  });

  it('drains: true once every processing key is done, false at the deadline', async () => {
    const timers = new FakeClock();
    const q = newQueue(timers);
    expect(await newQueue(timers).shutDownWithDrain(10)).to.equal(true);

    q.add('a');
    q.add('b');
    await q.get();
    await q.get();
    let drained: boolean | undefined;
    void q.shutDownWithDrain(1000).then((v) => (drained = v));
    q.done('a');
    await flush();
    expect(drained).to.equal(undefined);
    q.done('b');
    await flush();
    expect(drained).to.equal(true);
    expect(timers.pending()).to.equal(0);

    const slow = newQueue(timers);
    slow.add('x');
    await slow.get();
    const result = slow.shutDownWithDrain(1000);
    timers.advance(999);
    await flush();
    timers.advance(1);
    expect(await result).to.equal(false);
  });

  it('reports depth on every change and a retry per addRateLimited', async () => {
    const depths: number[] = [];
    let retries = 0;
    const timers = new FakeClock();
    const q = new WorkQueue({
      metrics: { depth: (n) => depths.push(n), retry: () => retries++ },
      clock: timers,
    });
    q.add('a');
    q.add('b');
    q.add('a');
    await q.get();
    q.addRateLimited('c');
    q.addRateLimited('c');
    timers.advance(1000);
    expect(depths).to.deep.equal([1, 2, 1, 2]);
    expect(retries).to.equal(2);
  });
});
