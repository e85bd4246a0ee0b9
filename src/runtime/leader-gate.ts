// Followers keep warm caches but never write. Rather than trusting every code path to check, all
// writes go through this gate: a request other than GET is refused unless this replica leads at
// this instant, so a leader that has just lost its lease cannot slip one more write through.
// A write may not outlive the leadership it started under: its timeout is cut to the time left
// before the renew deadline, which narrows (not closes) the window of a write landing after a
// handover. Every write that succeeds is logged at debug level ("api write"): the audit trail of
// what the operator changed, and how the tests count writes.
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type KubeApi,
  type Query,
  type RequestOptions,
  type Verb,
  type WatchEvent,
  type WatchOptions,
} from '../kube/api.ts';

export class NotLeaderError extends Error {
  constructor(verb: string, path: string) {
    super(`not the leader: refusing ${verb} ${path}`);
    this.name = 'NotLeaderError';
  }
}

export class LeaderGate implements KubeApi {
  private readonly inner: KubeApi;
  private readonly leading: () => boolean;
  private readonly log?: { debug(m: string, meta?: object): void };
  private readonly remainingMs?: () => number;

  constructor(
    inner: KubeApi,
    leading: () => boolean,
    log?: { debug(m: string, meta?: object): void },
    /** Time left in the current term; undefined without leader election. */
    remainingMs?: () => number,
  ) {
    this.inner = inner;
    this.leading = leading;
    this.log = log;
    this.remainingMs = remainingMs;
  }

  async request<T = unknown>(verb: Verb, path: string, opts?: RequestOptions): Promise<T> {
    if (verb === 'GET') return this.inner.request<T>(verb, path, opts);
    if (!this.leading()) throw new NotLeaderError(verb, path);
    const left = this.remainingMs?.();
    const timeoutMs =
      left === undefined
        ? opts?.timeoutMs
        : Math.min(opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, left);
    const result = await this.inner.request<T>(verb, path, { ...opts, timeoutMs });
    this.log?.debug('api write', { verb, path });
    return result;
  }

  watch(
    path: string,
    query: Query,
    onEvent: (e: WatchEvent) => void,
    opts: WatchOptions,
  ): Promise<void> {
    return this.inner.watch(path, query, onEvent, opts);
  }
}
