import { expect } from 'chai';
import { Backoff, sleep } from '../../../src/kube/backoff.ts';

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
    let t = 0;
    const b = new Backoff({ random: () => 0, now: () => t });
    expect([b.next(), b.next(), b.next()]).to.deep.equal([800, 1600, 3200]);
    b.succeeded();
    t += 59_999;
    expect(b.next()).to.equal(6400); // the success lasted less than a minute: still flapping
    b.succeeded();
    t += 30_000;
    b.succeeded(); // repeated successes do not restart the healthy run
    t += 30_000;
    expect(b.next()).to.equal(800);
  });

  it('a long time spent failing is not a healthy run', () => {
    let t = 0;
    const b = new Backoff({ random: () => 0, now: () => t });
    b.next();
    t += 600_000;
    expect(b.next()).to.equal(1600);
  });
});

describe('sleep', () => {
  it('waits about the given time', async () => {
    const t0 = Date.now();
    await sleep(20);
    expect(Date.now() - t0).to.be.at.least(15);
  });

  it('resolves early, without throwing, when the signal aborts', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 5);
    await sleep(60_000, ac.signal);
    expect(Date.now() - t0).to.be.lessThan(1000);
    await sleep(60_000, ac.signal); // already aborted
  });
});
