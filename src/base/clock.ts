// The one time seam: what "now" is, timers, and an abortable sleep. Production code takes a Clock
// (default systemClock) instead of calling Date.now or setTimeout itself, so every time-dependent
// rule (backoff, lease expiry, rate limits, event windows) is tested with one manual fake
// (test/support/fake-clock.ts) instead of real waiting.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch, as Date.now. */
  now(): number;
  /** Calls fn once after ms; cancel() stops it. */
  setTimer(fn: () => void, ms: number): Timer;
  /** Waits ms; resolves early (never rejects) when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** Waits for `p`, or `ms`, whichever comes first (never rejects). */
export async function within(clock: Clock, ms: number, p: Promise<unknown>): Promise<void> {
  let timer: Timer | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise<void>((resolve) => (timer = clock.setTimer(resolve, ms))),
  ]);
  timer?.cancel();
}
