// A scripted KubeApi for reflector tests: LIST answers come from a function of the query, each
// WATCH call takes the next script from a queue (and hangs until aborted when none is left).
import type {
  KubeApi,
  Query,
  RequestOptions,
  Verb,
  WatchEvent,
  WatchOptions,
} from '../../../src/kube/api.ts';
import { ApiError } from '../../../src/kube/errors.ts';
import type { Log } from '../../../src/base/log.ts';
import type { ReflectorMetrics } from '../../../src/kube/reflector.ts';

export type WatchScript = (
  emit: (e: WatchEvent) => void,
  opts: WatchOptions,
  query: Query,
) => Promise<void>;

export class FakeApi implements KubeApi {
  lists: Query[] = [];
  watches: Query[] = [];
  scripts: WatchScript[] = [];
  listHandler: (query: Query, call: number) => unknown = () => list([], '1');

  async request<T = unknown>(verb: Verb, path: string, opts: RequestOptions = {}): Promise<T> {
    if (verb !== 'GET') throw new Error(`unexpected ${verb} ${path}`);
    const query = { ...opts.query };
    this.lists.push(query);
    await Promise.resolve();
    const r = this.listHandler(query, this.lists.length);
    if (r instanceof Error) throw r;
    return structuredClone(r) as T;
  }

  async watch(
    _path: string,
    query: Query,
    onEvent: (e: WatchEvent) => void,
    opts: WatchOptions,
  ): Promise<void> {
    this.watches.push({ ...query });
    const script = this.scripts.shift() ?? hang();
    if (opts.signal.aborted) throw aborted();
    // Like the real client: our abort wins over whatever the script is doing.
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(aborted());
      opts.signal.addEventListener('abort', onAbort, { once: true });
      const emit = (e: WatchEvent): void => {
        if (opts.signal.aborted) return;
        try {
          onEvent(structuredClone(e));
        } catch {
          // the real client logs and goes on
        }
      };
      script(emit, opts, query).then(
        () => {
          opts.signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (e: unknown) => {
          opts.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}

export function aborted(): ApiError {
  return ApiError.transport('Aborted', 'aborted by the caller', 'WATCH', '/x');
}

/** Opens, emits the events, then ends normally (or fails with `fail`). */
export function events(evs: WatchEvent[], fail?: Error): WatchScript {
  return async (emit, opts) => {
    opts.onOpen?.();
    for (const e of evs) emit(e);
    if (fail) throw fail;
  };
}

/** Opens and then stays silent until aborted. */
export function hang(): WatchScript {
  return (_emit, opts) => {
    opts.onOpen?.();
    return new Promise<void>(() => undefined);
  };
}

/** Fails before opening. */
export function refuse(err: Error): WatchScript {
  return async () => {
    throw err;
  };
}

export function pod(
  namespace: string,
  name: string,
  rv: string,
  labels: Record<string, string> = {},
) {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { namespace, name, resourceVersion: rv, labels },
  };
}

export function list(items: unknown[], rv: string, cont?: string) {
  return {
    kind: 'PodList',
    apiVersion: 'v1',
    metadata: { resourceVersion: rv, continue: cont },
    items,
  };
}

export function status(code: number, reason: string, retryAfterSeconds?: number) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    reason,
    message: reason,
    details: retryAfterSeconds === undefined ? {} : { retryAfterSeconds },
  };
}

export function httpError(code: number, reason: string, retryAfterSeconds?: number): ApiError {
  return ApiError.fromStatus(status(code, reason), 'GET', '/api/v1/pods', code, retryAfterSeconds);
}

export class RecordingMetrics implements ReflectorMetrics {
  events: string[] = [];
  restarts: string[] = [];
  last = 0;
  watchEvent(_r: string, type: string): void {
    this.events.push(type);
  }
  watchRestart(_r: string, reason: string): void {
    this.restarts.push(reason);
  }
  lastWatchEvent(_r: string, s: number): void {
    this.last = s;
  }
}

export class RecordingLog implements Log {
  lines: { level: string; msg: string; meta?: object }[] = [];
  debug(msg: string, meta?: object): void {
    this.lines.push({ level: 'debug', msg, meta });
  }
  info(msg: string, meta?: object): void {
    this.lines.push({ level: 'info', msg, meta });
  }
  warn(msg: string, meta?: object): void {
    this.lines.push({ level: 'warn', msg, meta });
  }
  error(msg: string, meta?: object): void {
    this.lines.push({ level: 'error', msg, meta });
  }
  child(): Log {
    return this;
  }
}

/** Polls (on the macrotask queue, no real delay) until cond holds; fails after ~2 s. */
export async function until(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
