// client-go's jittered exponential backoff (wait.Backoff + ExponentialBackoffManager): 0.8 s
// doubling to 30 s, each delay stretched by up to 100 % so a fleet of watchers that lost the same
// API server do not come back in lockstep. The reset rule differs on purpose: client-go resets
// when no backoff was asked for 2 minutes, which a slowly failing call (30 s timeout + 30 s delay)
// can satisfy while failing; here only a healthy run of resetAfterMs resets it.
import { systemClock, type Clock } from '../base/clock.ts';

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** delay * (1 + random * jitter), capped at maxMs (wait.Jitter). */
  jitter?: number;
  /** A healthy run this long (from the first succeeded() after a failure) resets the backoff. */
  resetAfterMs?: number;
  random?: () => number;
  clock?: Clock;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
  readonly resetAfterMs: number;
  #random: () => number;
  #clock: Clock;
  #current: number;
  /** Start of the current run of successes; undefined while failing. */
  #healthySince: number | undefined;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 800;
    this.maxMs = opts.maxMs ?? 30_000;
    this.factor = opts.factor ?? 2;
    this.jitter = opts.jitter ?? 1.0;
    this.resetAfterMs = opts.resetAfterMs ?? 60_000;
    this.#random = opts.random ?? Math.random;
    this.#clock = opts.clock ?? systemClock;
    this.#current = this.initialMs;
  }

  /** The delay before the next attempt, in ms. Call once per failure. */
  next(): number {
    if (
      this.#healthySince !== undefined &&
      this.#clock.now() - this.#healthySince >= this.resetAfterMs
    ) {
      this.reset();
    }
    this.#healthySince = undefined;
    const base = this.#current;
    this.#current = Math.min(this.#current * this.factor, this.maxMs);
    const jittered = this.jitter > 0 ? base * (1 + this.#random() * this.jitter) : base;
    return Math.min(Math.round(jittered), this.maxMs);
  }

  reset(): void {
    this.#current = this.initialMs;
    this.#healthySince = undefined;
  }

  /** A list or watch started succeeding; the backoff resets if this lasts resetAfterMs. */
  succeeded(): void {
    this.#healthySince ??= this.#clock.now();
  }
}
