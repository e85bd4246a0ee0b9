// The one way deployguard talks to the API server: JSON requests and line-delimited watch streams
// over node:http(s) with a keep-alive agent per loaded kubeconfig. client-node's KubeConfig does
// the kubeconfig work (TLS material, exec/OIDC/token-file auth via applyToHTTPSOptions); we own
// the HTTP so status codes, Retry-After and Status bodies reach the caller as an ApiError, which
// client-node's generated clients and Watch (status code only, no body) do not give.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { asObject } from '../base/json.ts';
import { VERSION_STRING } from '../version.ts';
import { ApiError } from './errors.ts';
import { errorMessage, stderrLog, type Log } from '../base/log.ts';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type KubeApi,
  type Query,
  type RequestOptions,
  type Verb,
  type WatchEvent,
  type WatchOptions,
} from './api.ts';

interface Connection {
  kc: KubeConfig;
  /** Built on first use from the TLS material applyToHTTPSOptions reads: requests. */
  agent?: http.Agent;
  /** Watches: each holds its socket for minutes, so they never wait behind requests. */
  watchAgent?: http.Agent;
}

interface Exchange {
  status: number;
  headers: http.IncomingHttpHeaders;
  req: http.ClientRequest;
  /** The live stream (streaming exchanges that got 200). */
  res?: http.IncomingMessage;
  /** The body, for everything else. */
  text: string;
}

const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);
const MAX_ERROR_BODY = 1 << 20;
/** Larger than any object etcd accepts (1.5 MiB default) with a wide margin. */
const MAX_WATCH_LINE = 64 << 20;
const MAX_HEADER_WAIT_MS = 30_000;

export class KubeClient implements KubeApi {
  #load: () => KubeConfig;
  #userAgent: string;
  #log: Log;
  #conn: Connection;
  #maxSockets: number;

  /**
   * `load` builds a fresh KubeConfig; called now and again on a 401 (then the request is retried
   * once). `maxSockets` bounds the connections requests use at once (HTTP/1.1 needs one per
   * request in flight; beyond it they wait in order); watches are not counted. Default: no bound.
   */
  constructor(
    load: () => KubeConfig,
    opts: { userAgent?: string; log?: Log; maxSockets?: number } = {},
  ) {
    this.#load = load;
    this.#userAgent = opts.userAgent ?? `deployguard/${VERSION_STRING}`;
    this.#log = opts.log ?? stderrLog;
    this.#maxSockets = opts.maxSockets ?? Infinity;
    this.#conn = { kc: load() };
  }

  /** Namespace of the current context, if any. */
  currentNamespace(): string | undefined {
    const kc = this.#conn.kc;
    return kc.getContextObject(kc.getCurrentContext())?.namespace || undefined;
  }

  async request<T = unknown>(verb: Verb, path: string, opts: RequestOptions = {}): Promise<T> {
    const payload =
      opts.body === undefined
        ? undefined
        : typeof opts.body === 'string'
          ? opts.body
          : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (payload !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const r = await this.#withFreshCredentials((conn) =>
      this.#exchange(conn, verb, path, opts.query, {
        headers,
        payload,
        signal: opts.signal,
        timeoutMs: opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        stream: false,
      }),
    );
    const text = takeBody(r);
    if (r.status < 200 || r.status >= 300) throw errorFromResponse(verb, path, r, text);
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw ApiError.transport('InvalidResponse', 'response body is not JSON', verb, path);
    }
  }

  async watch(
    path: string,
    query: Query,
    onEvent: (e: WatchEvent) => void,
    opts: WatchOptions,
  ): Promise<void> {
    const r = await this.#withFreshCredentials((conn) =>
      this.#exchange(
        conn,
        'GET',
        path,
        { ...query, watch: true },
        {
          headers: {},
          payload: undefined,
          signal: opts.signal,
          timeoutMs: Math.min(opts.inactivityMs, MAX_HEADER_WAIT_MS),
          stream: true,
        },
      ),
    );
    if (r.status !== 200 || !r.res) throw errorFromResponse('WATCH', path, r, takeBody(r));
    opts.onOpen?.();
    return this.#stream(r, path, onEvent, opts);
  }

  /** Runs attempt; on 401 reloads the kubeconfig (once per stale config) and tries once more. */
  async #withFreshCredentials(attempt: (conn: Connection) => Promise<Exchange>): Promise<Exchange> {
    const conn = this.#conn;
    const first = await attempt(conn);
    if (first.status !== 401) return first;
    if (this.#conn === conn) {
      try {
        this.#conn = { kc: this.#load() };
      } catch (e) {
        this.#log.warn('reloading the kubeconfig after a 401 failed', { error: errorMessage(e) });
        return first;
      }
    }
    return attempt(this.#conn);
  }

  async #prepare(
    conn: Connection,
    verb: string,
    path: string,
    query: Query | undefined,
    headers: Record<string, string>,
    stream: boolean,
  ): Promise<{ url: URL; options: https.RequestOptions; transport: typeof https | typeof http }> {
    const cluster = conn.kc.getCurrentCluster();
    if (!cluster) throw ApiError.transport('ConfigError', 'no current cluster', verb, path);
    const tls: https.RequestOptions = { headers: {} };
    try {
      // Re-run per request: exec and OIDC tokens expire and the authenticators refresh them.
      await conn.kc.applyToHTTPSOptions(tls);
    } catch (e) {
      throw ApiError.transport('ConfigError', errorMessage(e), verb, path);
    }
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const isHttp = url.protocol === 'http:';
    // A proxy needs client-node's proxy agent; otherwise our own, with keep-alive (theirs has none).
    const agent = (maxSockets: number): http.Agent =>
      cluster.proxyUrl
        ? (tls.agent as http.Agent)
        : isHttp
          ? new http.Agent({ keepAlive: true, maxSockets })
          : new https.Agent({
              keepAlive: true,
              maxSockets,
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              pfx: tls.pfx,
              passphrase: tls.passphrase,
              servername: tls.servername,
              ...(tls.rejectUnauthorized === undefined
                ? {}
                : { rejectUnauthorized: tls.rejectUnauthorized }),
            });
    const chosen = stream
      ? (conn.watchAgent ??= agent(Infinity))
      : (conn.agent ??= agent(this.#maxSockets));
    const options: https.RequestOptions = {
      method: verb,
      agent: chosen,
      headers: {
        ...(tls.headers as Record<string, string>),
        Accept: 'application/json',
        'User-Agent': this.#userAgent,
        ...headers,
      },
    };
    if (tls.auth) options.auth = tls.auth;
    return { url, options, transport: isHttp ? http : https };
  }

  /**
   * One HTTP exchange. Resolves with status and body, or (stream and 200) with the live
   * response as soon as the headers arrive; rejects with a transport ApiError.
   */
  async #exchange(
    conn: Connection,
    verb: string,
    path: string,
    query: Query | undefined,
    o: {
      headers: Record<string, string>;
      payload: string | undefined;
      signal: AbortSignal | undefined;
      timeoutMs: number;
      stream: boolean;
    },
  ): Promise<Exchange> {
    const label = o.stream ? 'WATCH' : verb;
    if (o.signal?.aborted) throw aborted(label, path);
    const { url, options, transport } = await this.#prepare(
      conn,
      verb,
      path,
      query,
      o.headers,
      o.stream,
    );
    return new Promise<Exchange>((resolve, reject) => {
      let settled = false;
      const settle = (err: ApiError | undefined, value?: Exchange): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else if (value) {
          resolve(value);
        }
      };
      const req = transport.request(url, options, (res) => {
        const status = res.statusCode ?? 0;
        if (o.stream && status === 200) {
          settle(undefined, { status, headers: res.headers, req, res, text: '' });
          return;
        }
        const ok = status >= 200 && status < 300;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (ok || size <= MAX_ERROR_BODY) chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          // A keep-alive TLS socket keeps the request that opened it reachable for as long as it
          // lives (through its TLS session listener), and with it this closure: without this,
          // every pooled connection would hold its first response body.
          chunks.length = 0;
          settle(undefined, { status, headers: res.headers, req, text });
        });
        res.on('error', (e) => settle(transportError(e, label, path)));
        res.on('close', () => {
          if (!res.complete)
            settle(ApiError.transport('ECONNRESET', 'closed mid-response', label, path));
        });
      });
      req.on('error', (e) => settle(transportError(e, label, path)));
      const timer = setTimeout(
        () =>
          settle(
            ApiError.transport('Timeout', `no response within ${o.timeoutMs} ms`, label, path),
          ),
        o.timeoutMs,
      );
      const onAbort = (): void => settle(aborted(label, path));
      if (o.signal?.aborted) onAbort();
      else o.signal?.addEventListener('abort', onAbort, { once: true });
      req.end(o.payload);
    });
  }

  #stream(
    r: Exchange,
    path: string,
    onEvent: (e: WatchEvent) => void,
    opts: WatchOptions,
  ): Promise<void> {
    const res = r.res as http.IncomingMessage;
    const { signal, inactivityMs } = opts;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let buf = '';
      const settle = (err?: ApiError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        if (err) {
          r.req.destroy();
          reject(err);
        } else {
          resolve();
        }
      };
      const idle = setTimeout(
        () =>
          settle(
            ApiError.transport('Timeout', `watch silent for ${inactivityMs} ms`, 'WATCH', path),
          ),
        inactivityMs,
      );
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        idle.refresh();
        let scanFrom = buf.length;
        buf += chunk;
        let start = 0;
        for (
          let nl = buf.indexOf('\n', scanFrom);
          nl >= 0 && !settled;
          nl = buf.indexOf('\n', scanFrom)
        ) {
          this.#dispatch(buf.slice(start, nl), path, onEvent);
          start = scanFrom = nl + 1;
        }
        buf = buf.slice(start);
        if (buf.length > MAX_WATCH_LINE) {
          settle(
            ApiError.transport(
              'LineTooLong',
              `watch line over ${MAX_WATCH_LINE} bytes`,
              'WATCH',
              path,
            ),
          );
        }
      });
      res.on('end', () => {
        if (!settled) this.#dispatch(buf, path, onEvent);
        settle();
      });
      res.on('error', (e) => settle(transportError(e, 'WATCH', path)));
      res.on('close', () => {
        if (!res.complete)
          settle(ApiError.transport('ECONNRESET', 'watch connection closed', 'WATCH', path));
      });
      const onAbort = (): void => settle(aborted('WATCH', path));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #dispatch(line: string, path: string, onEvent: (e: WatchEvent) => void): void {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.#log.warn('skipping an unparsable watch line', { path, length: line.length });
      return;
    }
    const ev = asObject(parsed);
    if (!ev || typeof ev.type !== 'string' || !EVENT_TYPES.has(ev.type)) {
      this.#log.warn('skipping a watch line that is not an event', { path });
      return;
    }
    try {
      onEvent({ type: ev.type as WatchEvent['type'], object: ev.object });
    } catch (e) {
      this.#log.error('watch event handler threw', { path, error: errorMessage(e) });
    }
  }
}

function aborted(verb: string, path: string): ApiError {
  return ApiError.transport('Aborted', 'aborted by the caller', verb, path);
}

function transportError(e: unknown, verb: string, path: string): ApiError {
  if (e instanceof ApiError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return ApiError.transport(
    typeof code === 'string' ? code : 'NetworkError',
    errorMessage(e),
    verb,
    path,
  );
}

/** Retry-After is delta-seconds or an HTTP date. */
export function parseRetryAfter(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The body, read once: the exchange stays reachable from its pooled socket for as long as the
 * socket lives (see the response's end handler), so it must not keep the body after this.
 */
function takeBody(r: Exchange): string {
  const text = r.text;
  r.text = '';
  return text;
}

function errorFromResponse(verb: string, path: string, r: Exchange, text: string): ApiError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const status = asObject(body) ?? { message: http.STATUS_CODES[r.status] ?? '' };
  const retryAfter = r.headers['retry-after'];
  return ApiError.fromStatus(
    status,
    verb,
    path,
    r.status,
    parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
  );
}
