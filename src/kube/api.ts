// The port every part of the operator talks to the API server through: JSON requests and watch
// streams. KubeClient (client.ts) is the real one; the leader gate wraps it; tests use one fake
// (test/support/fake-kube-api.ts). Errors are always an ApiError (errors.ts).

export type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Default application/json; e.g. 'application/merge-patch+json' for PATCH. */
  contentType?: string;
  /** Whole exchange, headers and body; default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: unknown;
}

export interface WatchOptions {
  signal: AbortSignal;
  /** Abort when no byte arrives for this long (also bounds the wait for the response headers, at most 30 s). */
  inactivityMs: number;
  /** Called once the server accepted the watch (200), before the first event. */
  onOpen?: () => void;
}

export interface KubeApi {
  /** JSON request; resolves with the parsed body (undefined for empty), rejects with ApiError. */
  request<T = unknown>(verb: Verb, path: string, opts?: RequestOptions): Promise<T>;
  /**
   * Streams a watch (adds watch=true). onEvent runs per line; a throw in it is logged and the
   * stream goes on. Resolves when the server ends the stream. Rejects with ApiError: the HTTP
   * status on non-200; reason 'Timeout' after inactivityMs of silence; status 0 with the socket
   * error code on a broken connection; reason 'Aborted' (isAborted) when opts.signal fires.
   */
  watch(
    path: string,
    query: Query,
    onEvent: (e: WatchEvent) => void,
    opts: WatchOptions,
  ): Promise<void>;
}

/** How long a request may take when the caller names no timeout. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export const MERGE_PATCH = 'application/merge-patch+json';

/** A JSON merge patch (RFC 7386): the one way the operator patches objects. */
export function mergePatch<T = unknown>(
  api: KubeApi,
  path: string,
  body: unknown,
  opts: Omit<RequestOptions, 'body' | 'contentType'> = {},
): Promise<T> {
  return api.request<T>('PATCH', path, { ...opts, contentType: MERGE_PATCH, body });
}
