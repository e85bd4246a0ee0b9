import { expect } from 'chai';
import { silentLog } from '../../../src/base/log.ts';
import { Controller } from '../../../src/runtime/controller.ts';
import type { ReconcileContext } from '../../../src/runtime/reconcile.ts';
import { nextReconcileId } from '../../../src/runtime/workers.ts';
import { WorkQueue } from '../../../src/runtime/workqueue.ts';
import { flush, FakeClock } from '../../support/fake-clock.ts';
import { RecordingLog } from '../../support/recording-log.ts';

describe('Controller', () => {
  it('waits for beforeStart, then runs workers; each reconcile gets an ID and a logger naming its key', async () => {
    const queue = new WorkQueue({ clock: new FakeClock() });
    const seen: [string, ReconcileContext][] = [];
    const log = new RecordingLog();
    let ready: (() => void) | undefined;
    const results: string[] = [];
    const c = new Controller({
      name: 'pod',
      queue,
      workers: 2,
      log,
      reconcile: async (key, ctx) => {
        seen.push([key, ctx]);
        ctx.log.info('judged');
      },
      beforeStart: () => new Promise<void>((r) => (ready = r)),
      afterStart: () => results.push('started'),
      metrics: { observe: (_s, outcome) => results.push(outcome) },
    });
    queue.add('ns/a');
    const starting = c.start(new AbortController().signal);
    await flush();
    expect(seen).to.deep.equal([]);
    ready?.();
    await starting;
    await flush();
    expect(seen.map(([k]) => k)).to.deep.equal(['ns/a']);
    expect(results).to.deep.equal(['started', 'success']);
    expect(log.lines[0]).to.deep.include({ msg: 'judged' });
    expect(log.lines[0]?.meta).to.deep.include({ pod: 'ns/a', reconcileID: seen[0]?.[1].id });
    await c.stop({ graceful: true, deadlineMs: 1000 });
  });

  it('reconcileNow runs a key through the same runner before the workers start', async () => {
    const queue = new WorkQueue({ clock: new FakeClock() });
    const outcomes: string[] = [];
    const c = new Controller({
      name: 'policy',
      queue,
      workers: 1,
      log: silentLog,
      reconcile: async () => ({ requeueAfterMs: 5 }),
      metrics: { observe: (_s, o) => outcomes.push(o) },
    });
    await c.reconcileNow('p1');
    expect(outcomes).to.deep.equal(['requeue_after']);
  });

  it('an abrupt stop shuts the queue at once: keys still queued are not handed out', async () => {
    const queue = new WorkQueue({ clock: new FakeClock() });
    const c = new Controller({
      name: 'pod',
      queue,
      workers: 1,
      log: silentLog,
      reconcile: async () => undefined,
    });
    await c.stop({ graceful: false, deadlineMs: 0 });
    queue.add('x');
    expect(queue.len()).to.equal(0);
    expect(queue.shuttingDown()).to.equal(true);
  });
});

describe('reconcile IDs', () => {
  it('are unique, fixed-length hex, and cheap (a counter behind a random prefix)', () => {
    const ids = Array.from({ length: 10_000 }, () => nextReconcileId());
    expect(new Set(ids).size).to.equal(ids.length);
    for (const id of ids.slice(0, 5)) expect(id).to.match(/^[0-9a-f]{12}$/);
    expect(ids[0]?.slice(0, 6)).to.equal(ids[9999]?.slice(0, 6));
  });
});
