import { expect } from 'chai';
import { RecordingLog } from '../../support/recording-log.ts';
import { Periodic } from '../../../src/runtime/periodic.ts';
import { FakeClock } from '../../support/fake-clock.ts';

describe('Periodic', () => {
  it('runs every N ms, never overlapping, and a failing tick is logged, not fatal', async () => {
    const clock = new FakeClock();
    const log = new RecordingLog();
    let runs = 0;
    let release: (() => void) | undefined;
    const p = new Periodic({
      name: 'task',
      everyMs: 100,
      clock,
      log,
      task: async () => {
        runs++;
        if (runs === 1) throw new Error('boom');
        if (runs === 2) await new Promise<void>((r) => (release = r));
      },
    });
    await p.start(new AbortController().signal);
    await clock.run(100);
    expect(runs).to.equal(1);
    expect(log.lines.map((l) => l.msg)).to.deep.equal(['periodic task failed']);
    await clock.run(100);
    expect(runs).to.equal(2);
    // The second tick is still running: no third one starts.
    await clock.run(500);
    expect(runs).to.equal(2);
    release?.();
    await clock.run(100);
    expect(runs).to.equal(3);
  });

  it('a stop cancels the timer; only a graceful stop runs the final step', async () => {
    const clock = new FakeClock();
    let runs = 0;
    let finals = 0;
    const make = () =>
      new Periodic({
        name: 't',
        everyMs: 10,
        clock,
        log: new RecordingLog(),
        task: async () => void runs++,
        onGracefulStop: async () => void finals++,
      });
    const a = make();
    await a.start(new AbortController().signal);
    await a.stop({ graceful: false, deadlineMs: 0 });
    await clock.run(100);
    expect([runs, finals]).to.deep.equal([0, 0]);
    const b = make();
    await b.start(new AbortController().signal);
    await b.stop({ graceful: true, deadlineMs: 1000 });
    await clock.run(100);
    expect([runs, finals]).to.deep.equal([0, 1]);
  });
});
