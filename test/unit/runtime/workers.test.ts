import { expect } from 'chai';
import { runWorkers, TerminalError } from '../../../src/runtime/workers.ts';
import type { WorkerLog } from '../../../src/runtime/workers.ts';
import { WorkQueue } from '../../../src/runtime/workqueue.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { RecordingLog } from '../../support/recording-log.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(): { timers: FakeClock; queue: WorkQueue; log: RecordingLog } {
  const timers = new FakeClock();
  return {
    timers,
    queue: new WorkQueue({ clock: timers }),
    log: new RecordingLog(),
  };
}

describe('runWorkers', () => {
  it('processes every key with at most `workers` reconciles at once', async () => {
    const { queue, log } = setup();
    let running = 0;
    let peak = 0;
    const seen: string[] = [];
    const done = runWorkers(
      queue,
      3,
      async (key) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(key);
        running--;
      },
      log,
    );
    for (let i = 0; i < 20; i++) queue.add(`k${i}`);
    await flush();
    await flush();
    queue.shutDown();
    await done;
    expect(seen).to.have.members(Array.from({ length: 20 }, (_, i) => `k${i}`));
    expect(peak).to.equal(3);
  });

  it('retries an ordinary error with backoff, then forgets the key once it succeeds', async () => {
    const { timers, queue, log } = setup();
    let calls = 0;
    const done = runWorkers(
      queue,
      1,
      async () => {
        calls++;
        if (calls < 3) throw new Error('flaky');
      },
      log,
    );
    queue.add('a');
    await flush();
    expect(calls).to.equal(1);
    expect(queue.numRequeues('a')).to.equal(1);
    await timers.run(4);
    expect(calls).to.equal(1); // first backoff is 5 ms
    await timers.run(1);
    expect(calls).to.equal(2);
    await timers.run(10);
    expect(calls).to.equal(3);
    expect(queue.numRequeues('a')).to.equal(0);
    expect(log.count('warn')).to.equal(2);
    queue.shutDown();
    await done;
  });

  it("waits the server's Retry-After before retrying a throttled reconcile", async () => {
    const { timers, queue, log } = setup();
    let calls = 0;
    const done = runWorkers(
      queue,
      1,
      async () => {
        calls++;
        // What the client throws for a 429 with Retry-After: 2.
        if (calls === 1)
          throw Object.assign(new Error('429 TooManyRequests'), { retryAfterSeconds: 2 });
      },
      log,
    );
    queue.add('a');
    await flush();
    await timers.run(1999);
    expect(calls).to.equal(1); // not at the 5 ms backoff
    await timers.run(1);
    expect(calls).to.equal(2);
    queue.shutDown();
    await done;
  });

  it('does not retry a TerminalError', async () => {
    const { timers, queue, log } = setup();
    let calls = 0;
    const done = runWorkers(
      queue,
      1,
      async () => {
        calls++;
        throw new TerminalError('bad object');
      },
      log,
    );
    queue.add('a');
    await timers.run(10_000);
    expect(calls).to.equal(1);
    expect(queue.numRequeues('a')).to.equal(0);
    expect(log.lines).to.deep.include({
      level: 'error',
      msg: 'reconcile failed permanently; not retrying',
      meta: { key: 'a', error: 'bad object' },
    });
    queue.shutDown();
    await done;
  });

  it('drops a key after maxRetries retries', async () => {
    const { timers, queue, log } = setup();
    let calls = 0;
    const done = runWorkers(
      queue,
      2,
      async () => {
        calls++;
        throw new Error('always');
      },
      log,
      { maxRetries: 3 },
    );
    queue.add('a');
    await timers.run(60_000);
    expect(calls).to.equal(4);
    expect(queue.numRequeues('a')).to.equal(0);
    expect(log.count('warn')).to.equal(3);
    expect(log.lines.at(-1)?.msg).to.equal('reconcile failed too often; dropping key');
    queue.shutDown();
    await done;
  });

  it('requeues after requeueAfterMs, and resets the failure count on success', async () => {
    const { timers, queue, log } = setup();
    const calls: number[] = [];
    const done = runWorkers(
      queue,
      1,
      async () => {
        calls.push(timers.t);
        return calls.length < 3 ? { requeueAfterMs: 1000 } : undefined;
      },
      log,
    );
    queue.addRateLimited('a');
    await timers.run(10_000);
    expect(calls).to.deep.equal([5, 1005, 2005]);
    expect(queue.numRequeues('a')).to.equal(0);
    queue.shutDown();
    await done;
  });

  it('survives synchronous throws, non-Error throws, junk results and a throwing logger', async () => {
    const { timers, queue } = setup();
    const log: WorkerLog = {
      error: () => {
        throw new Error('logger down');
      },
      warn: () => {
        throw new Error('logger down');
      },
      debug: () => {
        throw new Error('logger down');
      },
    };
    const handled: string[] = [];
    const reconcile = ((key: string) => {
      handled.push(key);
      if (key === 'sync') throw new Error('sync');
      if (key === 'string') return Promise.reject('a string');
      if (key === 'undefined') return Promise.reject(undefined);
      if (key === 'terminal') throw new TerminalError('t');
      return Promise.resolve({ requeueAfterMs: Number.NaN });
    }) as (key: string) => Promise<void>;
    const done = runWorkers(queue, 2, reconcile, log, { maxRetries: 1 });
    for (const k of ['sync', 'string', 'undefined', 'terminal', 'junk']) queue.add(k);
    await timers.run(1000);
    queue.shutDown();
    await done;
    // Two attempts each for the retried ones (maxRetries 1), one for the others.
    expect(handled.filter((k) => k === 'sync')).to.have.length(2);
    expect(handled.filter((k) => k === 'string')).to.have.length(2);
    expect(handled.filter((k) => k === 'undefined')).to.have.length(2);
    expect(handled.filter((k) => k === 'terminal')).to.have.length(1);
    expect(handled.filter((k) => k === 'junk')).to.have.length(1);
  });

  it('resolves only after in-flight reconciles finish and queued keys are handed out', async () => {
    const { queue, log } = setup();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const finished: string[] = [];
    let resolved = false;
    const done = runWorkers(
      queue,
      1,
      async (key) => {
        if (key === 'slow') await gate;
        finished.push(key);
      },
      log,
    ).then(() => (resolved = true));
    queue.add('slow');
    queue.add('next');
    await flush();
    const drained = queue.shutDownWithDrain(60_000);
    await flush();
    expect(resolved).to.equal(false);
    release();
    await done;
    expect(await drained).to.equal(true);
    expect(finished).to.deep.equal(['slow', 'next']);
  });

  it('rejects a worker count that is not a positive integer', async () => {
    const { queue, log } = setup();
    for (const n of [0, -1, 1.5, Number.NaN]) {
      let error: unknown;
      await runWorkers(queue, n, async () => undefined, log).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
    }
  });
});
