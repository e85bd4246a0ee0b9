// Engine micro-benchmark: pod evaluations per second on one core with a realistic policy set, and the
// same run's baseline — JSON.parse of the same pods, the least work any watcher does per event — so
// the figure can be read as a ratio on a noisy machine. Run: `make bench` (or `npm run bench`).
import { parsePolicy } from '../src/api/parse.ts';
import type { CompiledPolicy } from '../src/engine/compiled-policy.ts';
import { evaluate } from '../src/engine/evaluate.ts';
import { sanitizePod } from '../src/engine/sanitize.ts';
import type { PodView } from '../src/engine/pod.ts';
import { realisticPods, realisticPolicies } from './workload.ts';

function compile(docs: unknown[]): CompiledPolicy[] {
  return docs.map((d) => {
    const r = parsePolicy(d);
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.compiled;
  });
}

/** Runs `fn` over the items for about `ms` milliseconds; returns operations per second. */
function measure(items: number, fn: (i: number) => void, ms: number): number {
  for (let i = 0; i < 2000; i++) fn(i % items); // warm-up: let the JIT settle
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 1000; i++) fn(ops++ % items);
    t = performance.now();
  }
  return (ops * 1000) / (t - t0);
}

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const policies = compile(realisticPolicies());
const raw = realisticPods(200);
const texts = raw.map((p) => JSON.stringify(p));
const views: PodView[] = raw.map((p) => {
  const s = sanitizePod(p);
  if (!s) throw new Error('not a pod');
  return s.pod;
});
const ctx = { namespaceLabels: { team: 'payments' }, now: new Date('2026-11-25T10:00:00Z') };

let violating = 0;
for (const v of views) if (evaluate(v, policies, ctx).violations.length > 0) violating++;

let sink = 0;
const parse = measure(
  texts.length,
  (i) => (sink += (JSON.parse(texts[i] as string) as object) ? 1 : 0),
  seconds * 1000,
);
const evalOnly = measure(
  views.length,
  (i) => (sink += evaluate(views[i] as PodView, policies, ctx).violations.length),
  seconds * 1000,
);
const full = measure(
  texts.length,
  (i) => {
    const s = sanitizePod(JSON.parse(texts[i] as string));
    if (s) sink += evaluate(s.pod, policies, ctx).violations.length;
  },
  seconds * 1000,
);

const row = (name: string, opsPerSec: number) =>
  `${name.padEnd(38)} ${Math.round(opsPerSec).toLocaleString('en-US').padStart(10)} /s ${(1e6 / opsPerSec).toFixed(2).padStart(8)} µs   ${(parse / opsPerSec).toFixed(2)}x JSON.parse`;
console.log(
  `deployguard engine micro-benchmark — Node ${process.version}, ${seconds}s per case, one core`,
);
console.log(
  `${policies.length} policies (PSS restricted, images, hostPaths, indicators, commands, scheduling, ownership); ${views.length} pods, ${violating} violating`,
);
console.log(row('baseline: JSON.parse(pod)', parse));
console.log(row('evaluate(pod view, policies)', evalOnly));
console.log(row('JSON.parse + sanitize + evaluate', full));
console.log(
  `target: >= 50,000 evaluations/s (20 µs each): ${evalOnly >= 50_000 ? 'met' : 'NOT met'}`,
);
if (sink === -1) console.log(''); // keep the results alive so the JIT can't drop the work
