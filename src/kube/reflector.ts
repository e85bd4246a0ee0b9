/**
 * Reflector: keeps a Store equal to the server's collection by paginated LIST then WATCH from
 * the list's resourceVersion, with client-go's reflector as the model.
 *
 * Why not @kubernetes/client-node's informer (docs/reliability.md lists its
 * failure modes): on any error other than 410
 * (API server restart, refused connection, 5xx, 429, 401, a failed relist) it emits `error` and
 * stops for good, so a security controller would look green while watching nothing; a throw in
 * a handler becomes an unhandled rejection; it asks for no bookmarks, sends no timeoutSeconds,
 * does not paginate and caches whole objects. Here nothing but stop() ends the loop: 410 (and
 * "resource version too large") relists, every other failure backs off (honouring Retry-After)
 * and resumes the watch from the last resourceVersion seen, bookmarks included.
 */
import { systemClock, type Clock } from '../base/clock.ts';
import { Backoff } from './backoff.ts';
import type { KubeApi, Query, WatchEvent } from './api.ts';
import { ApiError, isAborted, isGone, isResourceVersionTooLarge, restartReason } from './errors.ts';
import { errorMessage, stderrLog, type Log } from '../base/log.ts';
import { listAll, type ListedItem } from './list.ts';
import { objectKey, type Store } from './store.ts';
import { asObject } from '../base/json.ts';

export interface Change<T> {
  type: 'added' | 'updated' | 'deleted';
  key: string;
  object: T;
  old?: T;
  /** Date.now() when the watch event (or list) arrived. */
  receivedAt: number;
  /** True when produced by a (re)list rather than a watch event. */
  fromList: boolean;
}

export interface ReflectorMetrics {
  watchEvent(resource: string, type: string): void;
  watchRestart(resource: string, reason: string): void;
  lastWatchEvent(resource: string, unixSeconds: number): void;
}

export interface ReflectorOptions<T> {
  /** Bounded label: 'pods' | 'policies' | 'namespaces' | 'nodes' | ... */
  resource: string;
  api: KubeApi;
  /** Collection path, e.g. '/api/v1/pods' or '/api/v1/namespaces/x/pods'. */
  listPath: string;
  /** labelSelector / fieldSelector, for list and watch alike. */
  query?: Query;
  /** Trims raw objects before caching; undefined = not cached (and removed if it was). Must not throw (a throw counts as undefined and is logged). */
  transform: (raw: unknown) => T | undefined;
  store: Store<T>;
  /** Should only enqueue; a throw is caught and logged. */
  onChange: (c: Change<T>) => void;
  metrics?: ReflectorMetrics;
  log?: Log;
  /** LIST page size (default 500). */
  pageSize?: number;
  /** Server-side watch timeout, randomised in this range (default [300, 600] s). */
  watchTimeoutSeconds?: [number, number];
  /** Abort a watch silent this long (default 150 s: the server bookmarks about once a minute). */
  inactivityMs?: number;
  /** How long failing may last before healthy() says false (default backoff.maxMs + 30 s). */
  unhealthyAfterMs?: number;
  backoff?: Backoff;
  random?: () => number;
  clock?: Clock;
}

/** A watch closed by the server this soon with no event is treated as a failure (client-go: "very short watch"). */
const SHORT_WATCH_MS = 1000;

export class Reflector<T> {
  readonly resource: string;
  #o: ReflectorOptions<T>;
  #log: Log;
  #backoff: Backoff;
  #random: () => number;
  #clock: Clock;
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #synced = false;
  #rv = '';
  /** Start of the current run of failures; undefined while healthy. */
  #failingSince: number | undefined;
  /** When the current watch was accepted by the server; undefined when none is open. */
  #openSince: number | undefined;

  constructor(opts: ReflectorOptions<T>) {
    this.#o = opts;
    this.resource = opts.resource;
    this.#log = opts.log ?? stderrLog;
    this.#backoff = opts.backoff ?? new Backoff({ random: opts.random, clock: opts.clock });
    this.#random = opts.random ?? Math.random;
    this.#clock = opts.clock ?? systemClock;
  }

  start(): void {
    if (this.#loop) return;
    // Healthy until something fails: a first list of a large cluster may take longer than the
    // unhealthy threshold, and a liveness probe must not restart it in a loop. Each page has a
    // request timeout, so a list that hangs does fail.
    this.#loop = this.#run();
  }

  /** Aborts the in-flight list or watch; resolves once the loop has exited. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** False once list/watch has kept failing past the longest backoff plus grace; for /healthz. */
  healthy(): boolean {
    if (this.#failingSince === undefined) return true;
    // An open watch that has lasted is healthy even before its first event or bookmark (a
    // quiet collection); one that keeps dying right after opening is not.
    if (this.#openSince !== undefined && this.#clock.now() - this.#openSince >= SHORT_WATCH_MS) {
      return true;
    }
    const limit = this.#o.unhealthyAfterMs ?? this.#backoff.maxMs + 30_000;
    return this.#clock.now() - this.#failingSince <= limit;
  }

  lastResourceVersion(): string {
    return this.#rv;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#list(signal);
          needList = false;
        }
        const outcome = await this.#watch(signal);
        if (outcome === 'closed') {
          this.#o.metrics?.watchRestart(this.resource, 'closed');
          continue;
        }
        throw outcome;
      } catch (e) {
        if (signal.aborted || isAborted(e)) break;
        const reason = restartReason(e);
        this.#o.metrics?.watchRestart(this.resource, reason);
        this.#failed();
        if (isGone(e) || isResourceVersionTooLarge(e)) needList = true;
        const delay = this.#delayAfter(e);
        this.#log.warn(
          `${this.resource}: ${needList ? 'relisting' : 'rewatching'} in ${delay} ms`,
          {
            resource: this.resource,
            reason,
            error: errorMessage(e),
            resourceVersion: this.#rv,
          },
        );
        await this.#clock.sleep(delay, signal);
      }
    }
  }

  #delayAfter(e: unknown): number {
    const delay = this.#backoff.next();
    const retryAfter = e instanceof ApiError ? e.retryAfterSeconds : undefined;
    if (retryAfter === undefined) return delay;
    return Math.max(delay, Math.min(retryAfter * 1000, this.#backoff.maxMs));
  }

  #succeeded(): void {
    this.#failingSince = undefined;
    this.#backoff.succeeded();
  }

  #failed(): void {
    this.#failingSince ??= this.#clock.now();
  }

  async #list(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await listAll({
      api: this.#o.api,
      path: this.#o.listPath,
      query: this.#o.query,
      pageSize: this.#o.pageSize ?? 500,
      signal,
      accept: (raw) => this.#accept(raw),
      log: this.#log,
      resource: this.#o.resource,
    });
    this.#succeeded();
    this.#replace(items, this.#clock.now());
    this.#rv = resourceVersion;
    this.#synced = true;
    this.#log.debug(`${this.resource}: listed ${items.length}`, { resourceVersion });
  }

  /** Transforms and keys one raw object; undefined when it is not to be cached. */
  #accept(raw: unknown): ListedItem<T> | undefined {
    const meta = asObject(asObject(raw)?.metadata);
    const name = meta?.name;
    if (typeof name !== 'string' || name === '') {
      this.#log.warn(`${this.resource}: object without metadata.name`);
      return undefined;
    }
    const key = objectKey(typeof meta?.namespace === 'string' ? meta.namespace : undefined, name);
    let object: T | undefined;
    try {
      object = this.#o.transform(raw);
    } catch (e) {
      this.#log.error(`${this.resource}: transform threw`, { key, error: errorMessage(e) });
    }
    return { key, object };
  }

  /** Makes the store equal to a full list and says what changed. */
  #replace(items: ListedItem<T>[], receivedAt: number): void {
    const { store } = this.#o;
    const seen = new Set<string>();
    for (const { key, object } of items) {
      if (object === undefined) continue;
      seen.add(key);
      this.#put(key, object, receivedAt, true);
    }
    for (const key of [...store.keys()]) {
      if (seen.has(key)) continue;
      const old = store.get(key) as T;
      store.delete(key);
      this.#emit({ type: 'deleted', key, object: old, old, receivedAt, fromList: true });
    }
  }

  /** One watch; resolves 'closed' on a normal end, or with the error that ended it. */
  async #watch(signal: AbortSignal): Promise<'closed' | Error> {
    const [lo, hi] = this.#o.watchTimeoutSeconds ?? [300, 600];
    const timeoutSeconds = Math.min(hi, lo + Math.floor(this.#random() * (hi - lo + 1)));
    const query: Query = {
      ...this.#o.query,
      resourceVersion: this.#rv,
      allowWatchBookmarks: true,
      timeoutSeconds,
    };
    const started = this.#clock.now();
    let events = 0;
    let stopWith: Error | undefined;
    const inner = new AbortController();
    const onOuterAbort = (): void => inner.abort();
    signal.addEventListener('abort', onOuterAbort, { once: true });
    try {
      await this.#o.api.watch(
        this.#o.listPath,
        query,
        (ev) => {
          if (stopWith) return;
          events++;
          if (ev.type !== 'ERROR') this.#failingSince = undefined;
          stopWith = this.#onEvent(ev);
          if (stopWith) inner.abort();
        },
        {
          signal: inner.signal,
          inactivityMs: this.#o.inactivityMs ?? 150_000,
          onOpen: () => {
            this.#openSince = this.#clock.now();
            this.#backoff.succeeded();
          },
        },
      );
    } catch (e) {
      if (!stopWith) return e instanceof Error ? e : new Error(String(e));
    } finally {
      this.#openSince = undefined;
      signal.removeEventListener('abort', onOuterAbort);
    }
    if (stopWith) return stopWith;
    if (events === 0 && this.#clock.now() - started < SHORT_WATCH_MS) {
      return ApiError.transport(
        'ShortWatch',
        'watch closed at once with no event',
        'WATCH',
        this.#o.listPath,
      );
    }
    this.#succeeded();
    return 'closed';
  }

  /** Applies one watch event; returns an error to end the watch with (ERROR events). */
  #onEvent(ev: WatchEvent): Error | undefined {
    const receivedAt = this.#clock.now();
    this.#o.metrics?.watchEvent(this.resource, ev.type);
    this.#o.metrics?.lastWatchEvent(this.resource, receivedAt / 1000);
    if (ev.type === 'ERROR') return ApiError.fromStatus(ev.object, 'WATCH', this.#o.listPath);
    const rv = asObject(asObject(ev.object)?.metadata)?.resourceVersion;
    if (typeof rv === 'string' && rv !== '') this.#rv = rv;
    if (ev.type === 'BOOKMARK') return undefined;
    const item = this.#accept(ev.object);
    if (!item) return undefined;
    const { key, object } = item;
    if (ev.type === 'DELETED' || object === undefined) {
      const { store } = this.#o;
      const old = store.get(key);
      if (old === undefined && object === undefined) return undefined;
      store.delete(key);
      const last = (ev.type === 'DELETED' ? object : undefined) ?? (old as T);
      this.#emit({ type: 'deleted', key, object: last, old, receivedAt, fromList: false });
      return undefined;
    }
    this.#put(key, object, receivedAt, false);
    return undefined;
  }

  /** Stores an object and says whether it was added or updated. */
  #put(key: string, object: T, receivedAt: number, fromList: boolean): void {
    const old = this.#o.store.get(key);
    this.#o.store.set(key, object);
    this.#emit({
      type: old === undefined ? 'added' : 'updated',
      key,
      object,
      old,
      receivedAt,
      fromList,
    });
  }

  #emit(c: Change<T>): void {
    if (c.old === undefined) delete c.old;
    try {
      this.#o.onChange(c);
    } catch (e) {
      this.#log.error(`${this.resource}: change handler threw`, {
        key: c.key,
        error: errorMessage(e),
      });
    }
  }
}
