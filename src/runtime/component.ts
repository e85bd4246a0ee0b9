// What the manager runs: components that start and stop, and say whether they need the lease
// (controllers, periodic writers) or run on every replica (caches, HTTP servers). A new watched
// kind, a webhook server or a periodic task is one more component added by the setup; the manager
// itself never changes for it.

export interface StopOptions {
  /**
   * true: a shutdown; finish work in flight within deadlineMs (drain queues, flush writes).
   * false: the lease is lost; stop at once and write, count or announce nothing more.
   */
  graceful: boolean;
  deadlineMs: number;
}

export interface Component {
  /** For logs: which component failed to start or stop. */
  readonly name: string;
  /** Runs only while this replica holds the lease (and is stopped the moment it is lost). */
  readonly needsLeader: boolean;
  /** Starts; may wait (for caches, say). `signal` aborts a start still in progress. */
  start(signal: AbortSignal): Promise<void>;
  stop(opts: StopOptions): Promise<void>;
}

/** A named health or readiness check: ok, or what is wrong. */
export type Check = () => { ok: boolean; detail: string };

/** A component from two functions, for the small ones the setup composes. */
export function component(
  name: string,
  needsLeader: boolean,
  start: (signal: AbortSignal) => Promise<void> | void,
  stop: (opts: StopOptions) => Promise<void> | void = () => undefined,
): Component {
  return {
    name,
    needsLeader,
    start: async (signal) => start(signal),
    stop: async (opts) => stop(opts),
  };
}
