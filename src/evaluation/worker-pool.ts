// Evaluation in a small pool of worker threads. Node runs watches, the workqueue, /healthz and
// writes on one thread; judging a pod is CPU, and one pod with a lot of text (or many policies)
// must not make probes time out or other pods wait behind it on that thread. The pods go to the
// least busy worker; the policies in effect are sent to every worker before the first pod that
// needs them. A worker that dies, or takes longer than the deadline (which the engine's text
// budget makes a bug, not a load), is replaced and its pods' evaluations fail, so their
// reconciles are retried with backoff.
//
// Pods are not equal: one with a megabyte of command text costs a worker seconds against hundreds
// of policies, an ordinary pod a fraction of a millisecond. With two workers or more, the last one
// is kept for light pods (HEAVY_TEXT and under), and each pod goes to the worker with the least
// text queued, so a tenant's heavy pods wait behind each other, never in front of everyone else's.
import { Worker } from 'node:worker_threads';
import type { Clock, Timer } from '../base/clock.ts';
import type { Log } from '../base/log.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { EvaluationContext } from '../engine/evaluate.ts';
import { allContainers, type PodView } from '../engine/pod.ts';
import type { Evaluation } from '../engine/violation.ts';
import type { PodEvaluator } from './evaluator.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

export interface WorkerPoolOptions {
  size: number;
  clock: Clock;
  log: Log;
  /** An evaluation not answered by then counts as a stuck worker. Default 30 s. */
  deadlineMs?: number;
  /** Heap limit of each worker, in MiB: memory one pod can make a worker hold. Default 256. */
  maxHeapMb?: number;
}

/** Command text above which a pod is heavy: it never takes the light lane. */
export const HEAVY_TEXT = 16 * 1024;
/** What a pod costs a worker beyond its text, in the same unit (characters). */
const BASE_COST = 1024;

/** A pod's command text (command, args, env values): what its evaluation costs grows with it. */
export function textWeight(pod: PodView): number {
  let n = 0;
  for (const { container: c } of allContainers(pod.spec)) {
    for (const w of c.command) n += w.length;
    for (const w of c.args) n += w.length;
    for (const e of c.env) n += e.value?.length ?? 0;
  }
  return n;
}

interface Pending {
  cost: number;
  resolve: (e: Evaluation) => void;
  reject: (err: Error) => void;
  timer: Timer;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** The cost of what is pending, summed. */
  queued: number;
  /** The policies lists this worker holds, oldest first, by identity and the number it knows them by. */
  lists: Map<readonly CompiledPolicy[], number>;
}

/**
 * Lists a worker holds at once: the operator's and admission's, and one more while either changes,
 * so alternating callers never make a worker recompile; an older list is forgotten.
 */
const LISTS_PER_WORKER = 3;

// The worker runs as TypeScript from src/ and as JavaScript from dist/.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js',
  import.meta.url,
);

export class WorkerPool implements PodEvaluator {
  private readonly slots: Slot[] = [];
  private readonly opts: WorkerPoolOptions;
  private nextId = 0;
  private nextList = 0;
  private closed = false;

  constructor(opts: WorkerPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1)
      throw new RangeError(`size must be a positive integer, got ${opts.size}`);
    this.opts = opts;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  evaluate(
    pod: PodView,
    policies: readonly CompiledPolicy[],
    ctx: EvaluationContext,
  ): Promise<Evaluation> {
    if (this.closed) return Promise.reject(new Error('the evaluation pool is closed'));
    const text = textWeight(pod);
    const cost = BASE_COST + text;
    const slot = this.leastQueued(text > HEAVY_TEXT);
    const list = this.holding(slot, policies);
    const id = this.nextId++;
    return new Promise<Evaluation>((resolve, reject) => {
      const timer = this.opts.clock.setTimer(
        () => this.stuck(slot, id),
        this.opts.deadlineMs ?? 30_000,
      );
      slot.pending.set(id, { cost, resolve, reject, timer });
      slot.queued += cost;
      this.post(slot, { type: 'evaluate', id, list, pod, ctx });
    });
  }

  /** The number under which `slot` holds `policies`, sent to it first if it doesn't yet. */
  private holding(slot: Slot, policies: readonly CompiledPolicy[]): number {
    const held = slot.lists.get(policies);
    if (held !== undefined) {
      // Most recently used last: the one forgotten is the one no caller asked for longest.
      slot.lists.delete(policies);
      slot.lists.set(policies, held);
      return held;
    }
    const list = this.nextList++;
    this.post(slot, { type: 'policies', list, policies: policies.map((c) => c.policy) });
    slot.lists.set(policies, list);
    if (slot.lists.size > LISTS_PER_WORKER) {
      const [oldest, n] = slot.lists.entries().next().value as [readonly CompiledPolicy[], number];
      slot.lists.delete(oldest);
      this.post(slot, { type: 'forget', list: n });
    }
    return list;
  }

  /** Each worker's V8 heap size, in bytes (0 for one that can't say: starting or gone). */
  heapSizes(): Promise<number[]> {
    return Promise.all(
      this.slots.map((s) =>
        s.worker.getHeapStatistics().then(
          (h) => h.total_heap_size,
          () => 0,
        ),
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots].map((s) => this.retire(s, 'the evaluation pool closed')));
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 256 },
      // Node's warning about type stripping is not news in every worker.
      execArgv: [...process.execArgv, '--no-warnings=ExperimentalWarning'],
    });
    // A worker must not keep a stopping process alive.
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), queued: 0, lists: new Map() };
    worker.on('message', (m: FromWorker) => this.answered(slot, m));
    worker.on('error', (err) => this.died(slot, `evaluation worker failed: ${err.message}`));
    worker.on('exit', (code) => this.died(slot, `evaluation worker exited (${code})`));
    return slot;
  }

  private answered(slot: Slot, m: FromWorker): void {
    const p = slot.pending.get(m.id);
    if (!p) return;
    slot.pending.delete(m.id);
    slot.queued -= p.cost;
    p.timer.cancel();
    if (m.type === 'result') p.resolve(m.evaluation);
    else p.reject(new Error(`evaluation failed: ${m.message}`));
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  /** The worker with the least text queued; a heavy pod never gets the last (light) lane. */
  private leastQueued(heavy: boolean): Slot {
    const n = heavy && this.slots.length > 1 ? this.slots.length - 1 : this.slots.length;
    let best = this.slots[n - 1] as Slot;
    for (let i = 0; i < n; i++) {
      const s = this.slots[i] as Slot;
      if (s.queued < best.queued) best = s;
    }
    return best;
  }

  private stuck(slot: Slot, id: number): void {
    if (!slot.pending.has(id)) return;
    this.opts.log.error('an evaluation worker did not answer in time: replacing it', {
      pending: slot.pending.size,
    });
    void this.retire(slot, 'evaluation timed out');
  }

  /** A worker is gone (crashed, out of memory): fail what it held and start another. */
  private died(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    if (!this.closed) this.opts.log.error(why, { pending: slot.pending.size });
    this.fail(slot, why);
    if (this.closed) this.slots.splice(i, 1);
    else this.slots[i] = this.spawn();
  }

  private async retire(slot: Slot, why: string): Promise<void> {
    const i = this.slots.indexOf(slot);
    if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    else if (i >= 0) this.slots.splice(i, 1);
    this.fail(slot, why);
    slot.worker.removeAllListeners('exit');
    await slot.worker.terminate();
  }

  private fail(slot: Slot, why: string): void {
    for (const p of slot.pending.values()) {
      p.timer.cancel();
      p.reject(new Error(why));
    }
    slot.pending.clear();
    slot.queued = 0;
  }
}
