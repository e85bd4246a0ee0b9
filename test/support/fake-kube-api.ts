// The one fake of our KubeApi port (src/kube/api.ts) for unit tests; the API server itself is
// never faked (integration tests use the real one). Every request is recorded (verb, path, content
// type, query, a copy of the body) and answered by a handler the test supplies: a value is the
// response body, a thrown (or returned) Error is the failure, typically an ApiError made with
// apiError(). GETs can instead be answered by `listHandler` (a list, by query and call number).
// Each WATCH takes the next script from `scripts`, and hangs until aborted when none is left.
import type {
  KubeApi,
  Query,
  RequestOptions,
  Verb,
  WatchEvent,
  WatchOptions,
} from '../../src/kube/api.ts';
import { ApiError } from '../../src/kube/errors.ts';

export interface RecordedRequest {
  verb: Verb;
  path: string;
  contentType?: string;
  query?: Query;
  body?: unknown;
}

export type Handler = (req: RecordedRequest) => unknown;

export type WatchScript = (
  emit: (e: WatchEvent) => void,
  opts: WatchOptions,
  query: Query,
) => Promise<void>;

export class FakeKubeApi implements KubeApi {
  readonly requests: RecordedRequest[] = [];
  /** The query of every WATCH, in order. */
  readonly watches: Query[] = [];
  scripts: WatchScript[] = [];
  handler: Handler;
  /** When set, answers GETs: the query and the number of GETs so far (from 1). */
  listHandler?: (query: Query, call: number) => unknown;

  constructor(handler: Handler = () => undefined) {
    this.handler = handler;
  }

  /** The query of every GET, in order. */
  get lists(): Query[] {
    return this.requests.filter((r) => r.verb === 'GET').map((r) => r.query ?? {});
  }

  async request<T = unknown>(verb: Verb, path: string, opts: RequestOptions = {}): Promise<T> {
    const req: RecordedRequest = { verb, path };
    if (opts.contentType !== undefined) req.contentType = opts.contentType;
    if (opts.query !== undefined) req.query = { ...opts.query };
    // A JSON round trip, like the wire: undefined fields vanish, and later mutation can't leak in.
    if (opts.body !== undefined) req.body = JSON.parse(JSON.stringify(opts.body)) as unknown;
    this.requests.push(req);
    await Promise.resolve();
    const answer =
      verb === 'GET' && this.listHandler
        ? this.listHandler(req.query ?? {}, this.lists.length)
        : await this.handler(req);
    if (answer instanceof Error) throw answer;
    return (answer === undefined ? undefined : structuredClone(answer)) as T;
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

  /** Requests other than GET. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.verb !== 'GET');
  }

  /** `VERB path` of every request, for compact order assertions. */
  calls(): string[] {
    return this.requests.map((r) => `${r.verb} ${r.path}`);
  }

  clear(): void {
    this.requests.length = 0;
  }
}

/** An ApiError as the real client builds it from a Status body. */
export function apiError(
  status: number,
  reason = '',
  req: { verb: string; path: string } = { verb: 'GET', path: '/x' },
  message = '',
): ApiError {
  return new ApiError({
    status,
    reason,
    message,
    verb: req.verb,
    path: req.path,
    body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, reason, message },
  });
}

/** Handler that throws `err` for requests matching verb and path, else answers with `rest`. */
export function failOn(verb: Verb, pathPart: string, err: Error, rest: Handler = () => undefined) {
  return (req: RecordedRequest): unknown => {
    if (req.verb === verb && req.path.includes(pathPart)) throw err;
    return rest(req);
  };
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
