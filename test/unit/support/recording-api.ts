// A small fake of our KubeApi for unit tests of code that writes to the cluster: every request is
// recorded (verb, path, content type, a copy of the body), and answered by a handler the test
// supplies. A handler answers with a value (the response body) or by throwing, typically an
// ApiError made with apiError(); watch is not supported (these tests never watch).
import type {
  KubeApi,
  Query,
  RequestOptions,
  Verb,
  WatchEvent,
  WatchOptions,
} from '../../../src/kube/api.ts';
import { ApiError } from '../../../src/kube/errors.ts';

export interface RecordedRequest {
  verb: Verb;
  path: string;
  contentType?: string;
  query?: Query;
  body?: unknown;
}

export type Handler = (req: RecordedRequest) => unknown;

export class RecordingApi implements KubeApi {
  readonly requests: RecordedRequest[] = [];
  handler: Handler;

  constructor(handler: Handler = () => undefined) {
    this.handler = handler;
  }

  async request<T = unknown>(verb: Verb, path: string, opts: RequestOptions = {}): Promise<T> {
    const req: RecordedRequest = { verb, path };
    if (opts.contentType !== undefined) req.contentType = opts.contentType;
    if (opts.query !== undefined) req.query = { ...opts.query };
    // A JSON round trip, like the wire: undefined fields vanish, and later mutation can't leak in.
    if (opts.body !== undefined) req.body = JSON.parse(JSON.stringify(opts.body)) as unknown;
    this.requests.push(req);
    await Promise.resolve();
    const answer = await this.handler(req);
    return (answer === undefined ? undefined : structuredClone(answer)) as T;
  }

  watch(
    _path: string,
    _query: Query,
    _onEvent: (e: WatchEvent) => void,
    _opts: WatchOptions,
  ): Promise<void> {
    return Promise.reject(new Error('RecordingApi does not watch'));
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
