// One error type for everything the API server (or the network in between) can do to a request,
// and the predicates the reflector and reconcilers branch on. Classification reads the Status
// body where there is one, because the HTTP code alone is ambiguous (409 is both Conflict and
// AlreadyExists; 504 is also "resource version too large").
import { asObject } from '../base/json.ts';

export interface ApiErrorInit {
  status: number;
  reason: string;
  message: string;
  verb: string;
  path: string;
  retryAfterSeconds?: number;
  /** The Status object the server sent, if any (details.causes explain 422s). */
  body?: Record<string, unknown>;
}

export class ApiError extends Error {
  /** HTTP status; 0 for transport failures (refused, reset, timeout, our own abort). */
  readonly status: number;
  /** Status.reason ('NotFound', 'Conflict', 'Expired', ...) or ''; for transport: the error code ('ECONNREFUSED', 'Timeout', 'Aborted'). */
  readonly reason: string;
  readonly retryAfterSeconds?: number;
  readonly verb: string;
  readonly path: string;
  readonly body?: Record<string, unknown>;

  constructor(init: ApiErrorInit) {
    const what = init.status === 0 ? init.reason : `${init.status} ${init.reason}`.trim();
    super(`${init.verb} ${init.path}: ${what}${init.message ? `: ${init.message}` : ''}`);
    this.name = 'ApiError';
    this.status = init.status;
    this.reason = init.reason;
    if (init.retryAfterSeconds !== undefined) this.retryAfterSeconds = init.retryAfterSeconds;
    this.verb = init.verb;
    this.path = init.path;
    if (init.body !== undefined) this.body = init.body;
  }

  /** From a metav1.Status (a non-2xx body, or the object of a watch ERROR event). */
  static fromStatus(
    status: unknown,
    verb: string,
    path: string,
    httpStatus?: number,
    retryAfterHeader?: number,
  ): ApiError {
    const s = asObject(status);
    const code = typeof s?.code === 'number' ? s.code : (httpStatus ?? 500);
    const details = asObject(s?.details);
    const fromBody =
      typeof details?.retryAfterSeconds === 'number' ? details.retryAfterSeconds : undefined;
    const init: ApiErrorInit = {
      status: httpStatus ?? code,
      reason: typeof s?.reason === 'string' ? s.reason : '',
      message: typeof s?.message === 'string' ? s.message : '',
      verb,
      path,
    };
    const retryAfter = retryAfterHeader ?? fromBody;
    if (retryAfter !== undefined) init.retryAfterSeconds = retryAfter;
    if (s?.kind === 'Status') init.body = s;
    return new ApiError(init);
  }

  /** A failure below HTTP: `code` is the Node error code, 'Timeout' or 'Aborted'. */
  static transport(code: string, message: string, verb: string, path: string): ApiError {
    return new ApiError({ status: 0, reason: code, message, verb, path });
  }
}

function statusOf(e: unknown): { code: number; reason: string } | undefined {
  if (e instanceof ApiError) return { code: e.status, reason: e.reason };
  const o = asObject(e);
  if (!o) return undefined;
  // A watch ERROR event carries the Status as its object.
  if (o.type === 'ERROR' && asObject(o.object)) return statusOf(o.object);
  if (typeof o.code === 'number' || typeof o.reason === 'string') {
    return {
      code: typeof o.code === 'number' ? o.code : 0,
      reason: typeof o.reason === 'string' ? o.reason : '',
    };
  }
  return undefined;
}

const is = (e: unknown, code: number, reason?: string): boolean => {
  const s = statusOf(e);
  return s !== undefined && s.code === code && (reason === undefined || s.reason === reason);
};

export const isNotFound = (e: unknown): boolean => is(e, 404);
/** 409 Conflict (stale resourceVersion or failed precondition), not AlreadyExists. */
export const isConflict = (e: unknown): boolean => is(e, 409) && !isAlreadyExists(e);
export const isAlreadyExists = (e: unknown): boolean => is(e, 409, 'AlreadyExists');
export const isUnauthorized = (e: unknown): boolean => is(e, 401);
export const isForbidden = (e: unknown): boolean => is(e, 403);
export const isInvalid = (e: unknown): boolean => is(e, 422);
export const isTooManyRequests = (e: unknown): boolean => is(e, 429);

/** The resourceVersion we asked for is compacted away (410, reason Expired or Gone): relist. */
export function isGone(e: unknown): boolean {
  const s = statusOf(e);
  return s !== undefined && (s.code === 410 || s.reason === 'Expired' || s.reason === 'Gone');
}

/**
 * The server's watch cache is behind the resourceVersion we asked for (504 with cause
 * ResourceVersionTooLarge, typically right after an API server restart). client-go relists.
 */
export function isResourceVersionTooLarge(e: unknown): boolean {
  if (!(e instanceof ApiError) || e.status !== 504) return false;
  const causes = asObject(e.body?.details)?.causes;
  if (
    Array.isArray(causes) &&
    causes.some((c) => asObject(c)?.reason === 'ResourceVersionTooLarge')
  )
    return true;
  return /too large resource version/i.test(e.message);
}

/**
 * The namespace is being deleted: the API server refuses anything new in it (403 with a cause
 * whose reason is NamespaceTerminating, from its NamespaceLifecycle admission; checked against
 * the real API server). Nothing there would last anyway.
 */
export function isNamespaceTerminating(e: unknown): boolean {
  if (!(e instanceof ApiError) || e.status !== 403) return false;
  const causes = asObject(e.body?.details)?.causes;
  return (
    Array.isArray(causes) && causes.some((c) => asObject(c)?.reason === 'NamespaceTerminating')
  );
}

/** Our own AbortSignal fired (stop/shutdown), as opposed to a failure. */
export function isAborted(e: unknown): boolean {
  if (e instanceof ApiError) return e.status === 0 && e.reason === 'Aborted';
  return e instanceof Error && e.name === 'AbortError';
}

/** Short bounded label for metrics and logs. */
export function restartReason(e: unknown): string {
  if (isAborted(e)) return 'closed';
  if (isGone(e)) return 'gone';
  const s = statusOf(e);
  if (!s) return 'other';
  if (s.code === 401) return 'unauthorized';
  if (s.code === 403) return 'forbidden';
  if (s.code === 429) return 'throttled';
  if (s.code >= 500) return 'server_error';
  if (s.code === 0) {
    if (s.reason === 'Timeout') return 'timeout';
    if (s.reason === 'ConfigError') return 'other';
    if (s.reason === 'ShortWatch') return 'closed';
    return 'network';
  }
  return 'other';
}

/**
 * A write that named an object's UID (in a merge patch's metadata.uid) reached a different
 * object of the same name: 422 on metadata.uid. The object we judged is gone.
 */
export function isUidMismatch(e: unknown): boolean {
  return isInvalid(e) && e instanceof Error && /metadata\.uid/.test(e.message);
}
