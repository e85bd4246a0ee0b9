// Engine micro-benchmark: pod evaluations per second on one core with a realistic policy set, beside
// the same run's baseline — JSON.parse of the same pods, the least work any watcher does per event —
// so the figures can be read as ratios on a noisy machine. Run: `make bench` (or `npm run bench`).
//
// The headline is `evaluate` on fresh pod views: each view is judged once, as the operator judges a
// pod when its watch event arrives, so nothing memoised on a view from an earlier round helps it.
import { parsePolicy } from '../src/api/parse.ts';
import type { CompiledPolicy } from '../src/engine/compiled-policy.ts';
import { evaluate } from '../src/engine/evaluate.ts';
import type { PodView } from '../src/engine/pod.ts';
import { sanitizePod } from '../src/engine/sanitize.ts';
import { realisticPods, realisticPolicies } from './workload.ts';

function compile(docs: unknown[]): CompiledPolicy[] {
  return docs.map((d) => {
    const r = parsePolicy(d);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.compiled;
  });
}

function views(objects: readonly unknown[]): PodView[] {
  return objects.map((o) => {
    const s = sanitizePod(o);
    if (!s) throw new Error('not a pod');
    return s.pod;
  });
}

/**
 * Times `run(batch)` over fresh batches for about `ms` milliseconds; `prepare` (untimed) makes each
 * batch. Returns operations per second.
 */
function measure<T>(prepare: () => T[], run: (batch: T[]) => void, ms: number): number {
  run(prepare()); // warm-up: let the JIT settle
  run(prepare());
  let ops = 0;
  let spent = 0;
  while (spent < ms) {
    const batch = prepare();
    const t0 = performance.now();
    run(batch);
    spent += performance.now() - t0;
    ops += batch.length;
  }
  return (ops * 1000) / spent;
}

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const ms = seconds * 1000;
const policies = compile(realisticPolicies());
const raw = realisticPods(1000);
const texts = raw.map((p) => JSON.stringify(p));
const ctx = { namespaceLabels: { team: 'payments' }, now: new Date('2026-11-25T10:00:00Z') };
const parsed = (): unknown[] => texts.map((t) => JSON.parse(t));

let violating = 0;
for (const v of views(raw)) if (evaluate(v, policies, ctx).violations.length > 0) violating++;

let sink = 0;
const parse = measure(
  () => texts,
  (b) => b.forEach((t) => (sink += JSON.parse(t) ? 1 : 0)),
  ms,
);
const sanitize = measure(parsed, (b) => b.forEach((o) => (sink += sanitizePod(o) ? 1 : 0)), ms);
const fresh = measure(
  () => views(parsed()),
  (b) => b.forEach((v) => (sink += evaluate(v, policies, ctx).violations.length)),
  ms,
);
const warm = views(raw);
const again = measure(
  () => warm,
  (b) => b.forEach((v) => (sink += evaluate(v, policies, ctx).violations.length)),
  ms,
);

const row = (name: string, opsPerSec: number) =>
  `${name.padEnd(44)} ${Math.round(opsPerSec).toLocaleString('en-US').padStart(9)}/s ${(1e6 / opsPerSec).toFixed(2).padStart(7)} µs  ${(parse / opsPerSec).toFixed(2).padStart(5)}x JSON.parse`;
console.log(
  `deployguard engine micro-benchmark: Node ${process.version}, ${seconds} s per case, one core`,
);
console.log(
  `${policies.length} policies (PSS restricted, images, hostPaths, indicators, commands, scheduling, ownership); ${raw.length} pods (${JSON.stringify(raw[0]).length} bytes of JSON each), ${violating} violating`,
);
console.log(row('baseline: JSON.parse(pod)', parse));
console.log(row('sanitize(pod) -> pod view', sanitize));
console.log(row('evaluate(fresh pod view, policies)', fresh));
console.log(row('evaluate(same pod view again, e.g. resync)', again));
console.log(
  `target: >= 50,000 evaluations/s (20 µs each) on fresh views: ${fresh >= 50_000 ? 'met' : 'NOT met'}`,
);
if (sink === -1) console.log(''); // keep results alive so the JIT can't drop the work
