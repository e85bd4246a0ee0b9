// A rate-limiting work queue of keys with client-go's semantics (workqueue.TypedRateLimitingInterface):
// level-based reconciling needs only "this key needs a look", so a key waiting is queued once,
// a key is never handed to two workers at once, and a key added while being processed is
// queued again when its worker calls done(). Delays and the clock are injectable for tests.
import { systemClock, type Clock } from '../base/clock.ts';

export interface RateLimiterOptions {
  /** First retry delay; each further failure doubles it. Default 5 ms. */
  baseDelayMs?: number;
  /** Upper bound of the retry delay. Default 300 000 ms (5 min). */
  maxDelayMs?: number;
}

export interface WorkQueueMetrics {
  /** Keys waiting to be handed out, after every change. */
  depth(n: number): void;
  /** Called on each addRateLimited. */
  retry(): void;
}

export interface WorkQueueOptions {
  rateLimiter?: RateLimiterOptions;
  metrics?: WorkQueueMetrics;
  clock?: Clock;
}

/** Per-item exponential backoff: base * 2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export function backoffDelay(failures: number, baseDelayMs: number, maxDelayMs: number): number {
  // 2^exp overflows to Infinity long before failures gets large; Math.min caps it either way.
  const delay = baseDelayMs * 2 ** Math.min(failures, 1024);
  return Number.isFinite(delay) ? Math.min(delay, maxDelayMs) : maxDelayMs;
}

export class WorkQueue<K extends string = string> {
  // FIFO of waiting keys: an array with a moving head, so get() is O(1) amortised.
  private queue: K[] = [];
  private head = 0;
  /** Keys that need processing: waiting in `queue`, or marked while being processed. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** Delayed adds: the earliest time each key is due and the timer that will add it. */
  private readonly delayed = new Map<K, { readyAt: number; timer: { cancel(): void } }>();
  private readonly failures = new Map<K, number>();
  private readonly waiters: ((key: K | undefined) => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  private shutdown = false;

  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly metrics: WorkQueueMetrics | undefined;
  private readonly clock: Clock;

  constructor(opts: WorkQueueOptions = {}) {
    this.baseDelayMs = opts.rateLimiter?.baseDelayMs ?? 5;
    this.maxDelayMs = opts.rateLimiter?.maxDelayMs ?? 300_000;
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? systemClock;
  }

  add(key: K): void {
    if (this.shutdown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // Being processed: done() queues it again, so no worker ever holds a key twice.
    if (this.processing.has(key)) return;
    this.push(key);
  }

  addAfter(key: K, ms: number): void {
    if (this.shutdown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    // Like client-go, the earliest due time wins: a later addAfter never postpones a key.
    if (pending) {
      if (pending.readyAt <= readyAt) return;
      pending.timer.cancel();
    }
    const timer = this.clock.setTimer(() => {
      if (this.delayed.get(key)?.timer !== timer) return;
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { readyAt, timer });
  }

  /**
   * Queues the key again after its backoff, or after `atLeastMs` when that is longer (the API
   * server's Retry-After: a throttled write retried sooner only meets another 429). Capped at the
   * backoff's maximum, so no server header can park a key for longer.
   */
  addRateLimited(key: K, atLeastMs = 0): void {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    this.metrics?.retry();
    const backoff = backoffDelay(failures, this.baseDelayMs, this.maxDelayMs);
    this.addAfter(key, Math.min(this.maxDelayMs, Math.max(backoff, atLeastMs)));
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** Next key; waits while empty; resolves undefined once shut down and nothing is left to hand out. */
  get(): Promise<K | undefined> {
    if (this.head < this.queue.length) return Promise.resolve(this.take());
    if (this.shutdown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key)) this.push(key);
    if (this.processing.size === 0) this.drainWaiters.splice(0).forEach((resolve) => resolve());
  }

  /** Keys waiting (not delayed, not processing). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Stop accepting adds; get() returns remaining queued keys then undefined. Delayed adds are dropped. */
  shutDown(): void {
    if (this.shutdown) return;
    this.shutdown = true;
    for (const { timer } of this.delayed.values()) timer.cancel();
    this.delayed.clear();
    // Waiters exist only while the queue is empty, so there is nothing left for them.
    this.waiters.splice(0).forEach((resolve) => resolve(undefined));
  }

  /** shutDown, then resolve true when every key being processed has had done() called, or false at the deadline. */
  shutDownWithDrain(deadlineMs: number): Promise<boolean> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let settled = false;
      const timer = this.clock.setTimer(() => {
        if (settled) return;
        settled = true;
        resolve(false);
      }, deadlineMs);
      this.drainWaiters.push(() => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(true);
      });
    });
  }

  shuttingDown(): boolean {
    return this.shutdown;
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      // Hand over directly, with the bookkeeping of get(), so the key counts as processing
      // before the waiting worker even resumes.
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.metrics?.depth(this.len());
  }

  private take(): K {
    const key = this.queue[this.head] as K;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    this.metrics?.depth(this.len());
    return key;
  }
}
