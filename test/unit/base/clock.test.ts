import { expect } from 'chai';
import { systemClock, within } from '../../../src/base/clock.ts';
import { FakeClock } from '../../support/fake-clock.ts';

describe('systemClock', () => {
  it('sleep waits about the given time', async () => {
    const t0 = Date.now();
    await systemClock.sleep(20);
    expect(Date.now() - t0).to.be.at.least(15);
  });

  it('sleep resolves early, without throwing, when the signal aborts', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 5);
    await systemClock.sleep(60_000, ac.signal);
    expect(Date.now() - t0).to.be.lessThan(1000);
    await systemClock.sleep(60_000, ac.signal); // already aborted
  });

  it('a cancelled timer never fires', async () => {
    let fired = false;
    systemClock.setTimer(() => (fired = true), 1).cancel();
    await systemClock.sleep(10);
    expect(fired).to.equal(false);
  });
});

describe('within', () => {
  it('returns when the promise settles, or at the deadline, and never rejects', async () => {
    const clock = new FakeClock();
    let done = false;
    const waiting = within(clock, 1000, new Promise(() => undefined)).then(() => (done = true));
    await Promise.resolve();
    expect(done).to.equal(false);
    clock.advance(1000);
    await waiting;
    expect(done).to.equal(true);
    await within(clock, 1000, Promise.reject(new Error('x')));
  });
});

describe('FakeClock', () => {
  it('fires timers in time order inside advance, and sleeps resolve when their time comes', async () => {
    const clock = new FakeClock({ start: 100 });
    const order: string[] = [];
    clock.setTimer(() => order.push('b'), 20);
    clock.setTimer(() => order.push('a'), 10);
    const slept = clock.sleep(30).then(() => order.push('slept'));
    clock.advance(25);
    expect(order).to.deep.equal(['a', 'b']);
    expect(clock.now()).to.equal(125);
    await clock.run(5);
    await slept;
    expect(order).to.deep.equal(['a', 'b', 'slept']);
    expect(clock.delays).to.deep.equal([20, 10]);
    expect(clock.sleeps).to.deep.equal([30]);
  });

  it("a paused owner's timers wait until it is resumed", () => {
    const clock = new FakeClock();
    let fired = 0;
    clock.forOwner('a').setTimer(() => fired++, 10);
    clock.paused.add('a');
    clock.advance(100);
    expect(fired).to.equal(0);
    clock.paused.delete('a');
    clock.advance(0);
    expect(fired).to.equal(1);
  });
});
