import { expect } from 'chai';
import { Backoff } from '../../../src/kube/backoff.ts';
import { FakeClock } from '../../support/fake-clock.ts';

describe('Backoff', () => {
  it('defaults to client-go: 0.8 s doubling to 30 s, full jitter', () => {
    const b = new Backoff({ random: () => 0 });
    const seq = Array.from({ length: 8 }, () => b.next());
    expect(seq).to.deep.equal([800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
    const j = new Backoff({ random: () => 0.5 });
    expect([j.next(), j.next(), j.next()]).to.deep.equal([1200, 2400, 4800]);
  });

  it('caps the jittered delay at maxMs', () => {
    const b = new Backoff({ initialMs: 20_000, random: () => 0.99 });
    expect(b.next()).to.equal(30_000);
    expect(b.next()).to.equal(30_000);
  });

  it('honours factor and jitter options', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 3, jitter: 0.1, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next()]).to.deep.equal([110, 330, 990, 1000]);
  });

  it('reset() starts again from initialMs', () => {
    const b = new Backoff({ random: () => 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).to.equal(800);
  });

  it('resets after a healthy run of resetAfterMs, not after a short one', () => {
    const clock = new FakeClock();
    const b = new Backoff({ random: () => 0, clock });
    expect([b.next(), b.next(), b.next()]).to.deep.equal([800, 1600, 3200]);
    b.succeeded();
    clock.t += 59_999;
    expect(b.next()).to.equal(6400); // the success lasted less than a minute: still flapping
    b.succeeded();
    clock.t += 30_000;
    b.succeeded(); // repeated successes do not restart the healthy run
    clock.t += 30_000;
    expect(b.next()).to.equal(800);
  });

  it('a long time spent failing is not a healthy run', () => {
    const clock = new FakeClock();
    const b = new Backoff({ random: () => 0, clock });
    b.next();
    clock.t += 600_000;
    expect(b.next()).to.equal(1600);
  });
});
