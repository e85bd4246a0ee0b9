// The operator's two small HTTP endpoints: /metrics for Prometheus, /healthz and /readyz for the
// kubelet. Read-only, GET/HEAD only, no request bodies, tight timeouts and a connection cap, so a
// slow or hostile client on the pod network cannot tie the process up.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { parseBindAddress } from '../base/bind-address.ts';
import type { Log } from '../base/log.ts';

export interface Probe {
  (): { ok: boolean; detail: string };
}

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
  /** How long close() lets requests in flight finish before cutting them; default 2 s. */
  closeGraceMs?: number;
}): Promise<HttpServers> {
  const grace = opts.closeGraceMs ?? 2000;
  const metricsRoutes: Record<string, Route> = {
    '/metrics': async (_req, res) => {
      const body = await opts.registry.metrics();
      reply(res, 200, body, opts.registry.contentType);
    },
  };
  const probeRoutes: Record<string, Route> = {
    '/healthz': (_req, res) => probe(res, opts.healthz),
    '/readyz': (_req, res) => probe(res, opts.readyz),
  };
  // The same address for both (e.g. ":8080" twice) means one server with every route, rather than
  // a second listen failing with EADDRINUSE. Port 0 twice means two different free ports.
  const shared =
    opts.metricsBindAddress === opts.probeBindAddress && !/:0$/.test(opts.metricsBindAddress);
  const started: Server[] = [];
  try {
    const metrics = await listen(
      opts.metricsBindAddress,
      shared ? { ...metricsRoutes, ...probeRoutes } : metricsRoutes,
      opts.log,
    );
    if (metrics.server) started.push(metrics.server);
    const probes = shared ? metrics : await listen(opts.probeBindAddress, probeRoutes, opts.log);
    if (probes.server && !shared) started.push(probes.server);
    if (metrics.server) opts.log.info('serving metrics', { address: metrics.address });
    if (probes.server) opts.log.info('serving health probes', { address: probes.address });
    return {
      metricsAddress: metrics.address,
      probeAddress: probes.address,
      close: () => closeAll(started, grace),
    };
  } catch (e) {
    await closeAll(started, 0);
    throw e;
  }
}

async function listen(
  bindAddress: string,
  routes: Record<string, Route>,
  log: ServeLog,
): Promise<{ server?: Server; address: string }> {
  const parsed = parseBindAddress(bindAddress);
  if (parsed === 'disabled') return { address: '' };
  if (parsed === undefined) throw new Error(`invalid bind address "${bindAddress}"`);
  const server = createServer(
    {
      maxHeaderSize: 8192,
      headersTimeout: 10_000,
      requestTimeout: 15_000,
      keepAliveTimeout: 5_000,
    },
    (req, res) => void handle(req, res, routes, log),
  );
  server.maxConnections = 128;
  server.maxRequestsPerSocket = 1000;
  server.setTimeout(30_000, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: parsed.port, host: parsed.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.warn('http server error', { address: bindAddress, error: e }));
  const a = server.address() as AddressInfo;
  const address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return { server, address };
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
