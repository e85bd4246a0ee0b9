// The one fake of src/base/clock.ts for every test: time moves only when the test says so.
// Timers and sleeps fire inside advance() (synchronously, in time order) or run() (which lets
// promises settle between timers, for async code such as leader election). Timers can belong to
// an owner (a simulated process): a paused owner's timers wait, as a SIGSTOPped process would.
import type { Clock, Timer } from '../../src/base/clock.ts';

interface Pending {
  at: number;
  seq: number;
  owner: string;
  fire: () => void;
  live: boolean;
}

export interface FakeClockOptions {
  /** Start time (ms since the epoch). Default 0. */
  start?: number;
  /**
   * Sleeps resolve on the next macrotask without moving time, and are only recorded in `sleeps`
   * (for code whose backoff delays are the thing under test).
   */
  instantSleeps?: boolean;
}

/** Lets pending promise chains settle (a few macrotask turns). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  t: number;
  /** Every delay asked of setTimer, in order. */
  readonly delays: number[] = [];
  /** Every delay asked of sleep, in order. */
  readonly sleeps: number[] = [];
  /** Owners whose timers do not fire. */
  readonly paused = new Set<string>();
  readonly #instantSleeps: boolean;
  #seq = 0;
  #timers: Pending[] = [];

  constructor(opts: FakeClockOptions = {}) {
    this.t = opts.start ?? 0;
    this.#instantSleeps = opts.instantSleeps ?? false;
  }

  now = (): number => this.t;

  setTimer = (fn: () => void, ms: number): Timer => this.#schedule('', fn, ms, true);

  sleep = (ms: number, signal?: AbortSignal): Promise<void> => this.#sleep('', ms, signal);

  /** A view of this clock whose timers belong to `owner` (see paused). */
  forOwner(owner: string): Clock {
    return {
      now: this.now,
      setTimer: (fn, ms) => this.#schedule(owner, fn, ms, true),
      sleep: (ms, signal) => this.#sleep(owner, ms, signal),
    };
  }

  /** Timers not yet fired or cancelled. */
  pending(): number {
    return this.#timers.filter((x) => x.live).length;
  }

  /** Moves time forward by ms, firing due timers synchronously in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let due = this.#next(end); due; due = this.#next(end)) this.#fire(due);
    this.t = end;
  }

  /** Moves time forward by ms, letting promises settle before and after each timer fires. */
  async run(ms: number, onStep: () => void = () => undefined): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      onStep();
      const due = this.#next(end);
      if (!due) break;
      this.#fire(due);
    }
    this.t = end;
    await flush();
    onStep();
  }

  #schedule(owner: string, fire: () => void, ms: number, record: boolean): Timer {
    if (record) this.delays.push(ms);
    const timer: Pending = {
      at: this.t + Math.max(0, ms),
      seq: this.#seq++,
      owner,
      fire,
      live: true,
    };
    this.#timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  #sleep(owner: string, ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (this.#instantSleeps) return new Promise((resolve) => setTimeout(resolve, 0));
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = (): void => {
        timer.cancel();
        resolve();
      };
      const timer = this.#schedule(
        owner,
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        ms,
        false,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #next(end: number): Pending | undefined {
    this.#timers = this.#timers.filter((x) => x.live);
    return this.#timers
      .filter((x) => x.at <= end && !this.paused.has(x.owner))
      .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
  }

  #fire(due: Pending): void {
    due.live = false;
    this.t = Math.max(this.t, due.at);
    due.fire();
  }
}
