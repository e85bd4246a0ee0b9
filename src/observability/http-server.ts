// The operator's two small HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the
// kubelet. Read-only, GET/HEAD only, no request bodies, tight timeouts and a connection cap, so a
// slow or hostile client on the pod network cannot tie the process up. /metrics is served over TLS
// to a bearer token the API server vouches for (secure metrics); the probes stay plain HTTP, as
// the kubelet calls them and they tell nothing.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { parseBindAddress } from '../base/bind-address.ts';
import type { Log } from '../base/log.ts';

export interface Probe {
  (): { ok: boolean; detail: string };
}

/** What the API server says of a request's bearer token (kube/token-access.ts decides it). */
export type MetricsAccess = 'allowed' | 'unauthenticated' | 'forbidden' | 'unavailable';

export interface MetricsSecurity {
  /** The certificate to serve; called again every minute, so a rotated one is picked up. */
  tls: () => { cert: string; key: string };
  authorize: (authorization: string | undefined) => Promise<MetricsAccess>;
}

const TLS_RELOAD_MS = 60_000;

export interface HttpServers {
  /** Actual bound "host:port" ("[::]:8080" for all interfaces); "" when disabled. */
  metricsAddress: string;
  probeAddress: string;
  close(): Promise<void>;
}

type ServeLog = Pick<Log, 'info' | 'warn'>;

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export async function startHttpServers(opts: {
  metricsBindAddress: string;
  probeBindAddress: string;
  registry: Registry;
  healthz: Probe;
  readyz: Probe;
  log: ServeLog;
  /** TLS and token authorization for /metrics; absent serves it in the clear to anyone. */
  metricsSecurity?: MetricsSecurity;
  /** How long close() lets requests in flight finish before cutting them; default 2 s. */
  closeGraceMs?: number;
}): Promise<HttpServers> {
  const grace = opts.closeGraceMs ?? 2000;
  const security = opts.metricsSecurity;
  const metricsRoutes: Record<string, Route> = {
    '/metrics': async (req, res) => {
      if (security) {
        const access = await security.authorize(req.headers.authorization);
        if (access === 'unauthenticated') {
          res.setHeader('WWW-Authenticate', 'Bearer');
          return reply(res, 401, 'unauthorized: send a bearer token\n');
        }
        if (access === 'forbidden')
          return reply(res, 403, 'forbidden: the token may not get /metrics\n');
        if (access === 'unavailable') {
          res.setHeader('Retry-After', '5');
          return reply(res, 503, 'authorization unavailable, try again\n');
        }
      }
      const body = await opts.registry.metrics();
      reply(res, 200, body, opts.registry.contentType);
    },
  };
  const probeRoutes: Record<string, Route> = {
    '/healthz': (_req, res) => probe(res, opts.healthz),
    '/readyz': (_req, res) => probe(res, opts.readyz),
  };
  // The same address for both (e.g. ":8080" twice) means one server with every route, rather than
  // a second listen failing with EADDRINUSE. Port 0 twice means two different free ports, and "0"
  // twice serves neither. Secure metrics never share: the kubelet probes over plain HTTP.
  const sameAddress =
    opts.metricsBindAddress === opts.probeBindAddress &&
    !/:0$/.test(opts.metricsBindAddress) &&
    parseBindAddress(opts.metricsBindAddress) !== 'disabled';
  if (security && sameAddress)
    throw new Error('secure metrics need their own address: the probes are plain HTTP');
  const shared = sameAddress && !security;
  const started: Server[] = [];
  const stops: (() => void)[] = [];
  try {
    const metrics = await listen(
      opts.metricsBindAddress,
      shared ? { ...metricsRoutes, ...probeRoutes } : metricsRoutes,
      opts.log,
      security?.tls,
    );
    if (metrics.server) started.push(metrics.server);
    if (metrics.stop) stops.push(metrics.stop);
    const probes = shared ? metrics : await listen(opts.probeBindAddress, probeRoutes, opts.log);
    if (probes.server && !shared) started.push(probes.server);
    if (metrics.server)
      opts.log.info('serving metrics', {
        address: metrics.address,
        scheme: security ? 'https' : 'http',
        authorization: security ? 'TokenReview+SubjectAccessReview' : 'none',
      });
    if (probes.server) opts.log.info('serving health probes', { address: probes.address });
    return {
      metricsAddress: metrics.address,
      probeAddress: probes.address,
      close: () => {
        for (const stop of stops) stop();
        return closeAll(started, grace);
      },
    };
  } catch (e) {
    for (const stop of stops) stop();
    await closeAll(started, 0);
    throw e;
  }
}

const SERVER_OPTIONS = {
  maxHeaderSize: 8192,
  headersTimeout: 10_000,
  requestTimeout: 15_000,
  keepAliveTimeout: 5_000,
};

async function listen(
  bindAddress: string,
  routes: Record<string, Route>,
  log: ServeLog,
  tls?: () => { cert: string; key: string },
): Promise<{ server?: Server; address: string; stop?: () => void }> {
  const parsed = parseBindAddress(bindAddress);
  if (parsed === 'disabled') return { address: '' };
  if (parsed === undefined) throw new Error(`invalid bind address "${bindAddress}"`);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void =>
    void handle(req, res, routes, log);
  let stop: (() => void) | undefined;
  let server: Server;
  if (tls) {
    let current = tls();
    const secure: TlsServer = createTlsServer(
      { ...SERVER_OPTIONS, ...current, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 },
      onRequest,
    );
    // A rotated certificate (cert-manager renews before expiry) is served without a restart.
    const reload = setInterval(() => {
      try {
        const next = tls();
        if (next.cert === current.cert && next.key === current.key) return;
        secure.setSecureContext(next);
        current = next;
        log.info('metrics certificate reloaded', {});
      } catch (e) {
        log.warn('metrics certificate reload failed; serving the previous one', { error: e });
      }
    }, TLS_RELOAD_MS);
    reload.unref();
    stop = () => clearInterval(reload);
    server = secure;
  } else {
    server = createServer(SERVER_OPTIONS, onRequest);
  }
  server.maxConnections = 128;
  server.maxRequestsPerSocket = 1000;
  server.setTimeout(30_000, (socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: parsed.port, host: parsed.host }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    stop?.();
    throw e;
  }
  // A failed TLS handshake (a scanner, a plain-HTTP client) is the client's problem, not a log line.
  server.on('tlsClientError', () => {});
  server.on('error', (e) => log.warn('http server error', { address: bindAddress, error: e }));
  const a = server.address() as AddressInfo;
  const address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return { server, address, stop };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: Record<string, Route>,
  log: ServeLog,
): Promise<void> {
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed\n');
    }
    const length = req.headers['content-length'];
    if (
      (length !== undefined && length !== '0') ||
      req.headers['transfer-encoding'] !== undefined
    ) {
      // Never read a body; closing is the only safe way to be done with the unread bytes.
      res.setHeader('Connection', 'close');
      return reply(res, 413, 'request body not accepted\n');
    }
    const path = (req.url ?? '').split('?', 1)[0] as string;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route === undefined) return reply(res, 404, 'not found\n');
    await route(req, res);
  } catch (e) {
    log.warn('http request failed', { path: req.url?.slice(0, 100), error: e });
    if (!res.headersSent) reply(res, 500, 'internal error\n');
    else res.destroy();
  }
}

function probe(res: ServerResponse, check: Probe): void {
  let result: { ok: boolean; detail: string };
  try {
    result = check();
  } catch (e) {
    result = { ok: false, detail: `probe failed: ${(e as Error).message}` };
  }
  if (result.ok) reply(res, 200, 'ok\n');
  else reply(res, 503, `${result.detail || 'not ok'}\n`);
}

function reply(res: ServerResponse, status: number, body: string, contentType?: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType ?? 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(body); // On HEAD, node sends the headers and drops the body.
}

async function closeAll(servers: Server[], graceMs: number): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          // close() stops accepting and resolves once every connection is gone; idle keep-alive
          // ones are dropped now, busy ones get a short grace to finish their response.
          const force = setTimeout(() => server.closeAllConnections(), graceMs);
          force.unref();
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          server.closeIdleConnections();
        }),
    ),
  );
}
