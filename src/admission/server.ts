// The webhook's HTTPS endpoint. Only the API server should call it, but anyone on the pod network
// can reach it, so it is as guarded as the metrics endpoint: POST of a bounded JSON body only,
// tight timeouts and a connection cap. The certificate is swapped in place when it rotates.
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseBindAddress } from '../base/bind-address.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { Answer } from './handler.ts';

/** An AdmissionReview holds the object and the old one; the API server's own limit is 3 MiB each. */
export const MAX_REVIEW_BYTES = 7 * 1024 * 1024;
/**
 * Bytes of request bodies held at once, across every connection: beyond it a request is answered
 * 503 (the API server then fails open, and the watch judges the pod), so no number of callers can
 * make the operator hold more than this.
 */
export const MAX_BODY_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/** A body not fully received by then is dropped: a trickled body can't hold a slot for long. */
export const BODY_DEADLINE_MS = 5_000;
/** Connections from one address: the API server needs one or two (HTTP/2), a scanner gets no more. */
export const MAX_CONNECTIONS_PER_ADDRESS = 32;
/** Streams at once on one HTTP/2 connection. */
const MAX_STREAMS = 32;

export interface AdmissionServer {
  address: string;
  /** TLS connections accepted so far, and how many of them speak HTTP/2. */
  connections(): { total: number; http2: number };
  /** Serves this certificate from the next handshake on. */
  useCertificate(tls: { cert: string; key: string }): void;
  close(): Promise<void>;
}

export async function startAdmissionServer(opts: {
  bindAddress: string;
  tls: { cert: string; key: string };
  paths: readonly string[];
  handle(path: string, body: unknown): Promise<Answer>;
  log: Pick<Log, 'warn'>;
}): Promise<AdmissionServer> {
  const parsed = parseBindAddress(opts.bindAddress);
  if (parsed === undefined || parsed === 'disabled')
    throw new Error(`invalid admission bind address "${opts.bindAddress}"`);
  const busy = new Map<TLSSocket, number>();
  let closing = false;
  let connections = 0;
  let http2Connections = 0;
  // HTTP/2 when the client offers it, as the API server does: its requests share one connection
  // instead of a TLS handshake for each one its idle pool can't keep at 50 requests at once.
  const server: Http2SecureServer = createSecureServer(
    {
      ...opts.tls,
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      handshakeTimeout: 5_000,
      settings: { maxConcurrentStreams: MAX_STREAMS },
    },
    (req, res) => {
      // HTTP/1.1 connections: counted busy while a request is in flight, so close() can cut the
      // idle ones at once (HTTP/2 sessions close themselves once their streams are done).
      const socket = req.httpVersionMajor === 1 ? (req.socket as TLSSocket) : undefined;
      if (socket) busy.set(socket, (busy.get(socket) ?? 0) + 1);
      res.on('finish', () => {
        if (!socket) return;
        const left = (busy.get(socket) ?? 1) - 1;
        busy.set(socket, left);
        if (left === 0 && closing) socket.destroy();
      });
      void serve(req, res, { ...opts, budget });
    },
  );
  const budget = { held: 0 };
  const perAddress = new Map<string, number>();
  server.on('secureConnection', (s: TLSSocket) => {
    const from = s.remoteAddress ?? '';
    const n = (perAddress.get(from) ?? 0) + 1;
    if (n > MAX_CONNECTIONS_PER_ADDRESS) return void s.destroy();
    perAddress.set(from, n);
    s.on('close', () => {
      const left = (perAddress.get(from) ?? 1) - 1;
      if (left > 0) perAddress.set(from, left);
      else perAddress.delete(from);
    });
  });
  server.maxConnections = 256;
  server.setTimeout(30_000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: parsed.port, host: parsed.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('tlsClientError', () => {});
  // Open HTTP/2 sessions, so close() can end them (they have no closeIdleConnections).
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('secureConnection', (s: TLSSocket) => {
    busy.set(s, 0);
    connections++;
    if (s.alpnProtocol === 'h2') http2Connections++;
    s.on('close', () => busy.delete(s));
  });
  server.on('error', (e) => opts.log.warn('admission server error', { error: errorMessage(e) }));
  const a = server.address() as AddressInfo;
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    useCertificate: (tls) => server.setSecureContext(tls),
    connections: () => ({ total: connections, http2: http2Connections }),
    close: () =>
      new Promise<void>((resolve) => {
        // Requests in flight get a short grace; then every connection is cut.
        const force = setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const s of busy.keys()) s.destroy();
        }, 2000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        closing = true;
        for (const s of sessions) s.close();
        for (const [s, n] of busy) if (n === 0 && s.alpnProtocol !== 'h2') s.destroy();
      }),
  };
}

async function serve(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  opts: {
    paths: readonly string[];
    handle(path: string, body: unknown): Promise<Answer>;
    log: Pick<Log, 'warn'>;
    /** Body bytes held now, by every request together. */
    budget: { held: number };
  },
): Promise<void> {
  const path = (req.url ?? '').split('?', 1)[0] as string;
  if (!opts.paths.includes(path)) return send(res, 404, { message: 'not found' });
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return send(res, 405, { message: 'method not allowed' });
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_REVIEW_BYTES) {
    return send(res, 413, { message: 'review too large' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const deadline = setTimeout(() => drop(req, res), BODY_DEADLINE_MS);
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      opts.budget.held += chunk.length;
      if (size > MAX_REVIEW_BYTES) {
        send(res, 413, { message: 'review too large' });
        return drop(req, res);
      }
      if (opts.budget.held > MAX_BODY_BYTES_IN_FLIGHT) {
        res.setHeader('Retry-After', '1');
        send(res, 503, { message: 'too many reviews at once' });
        return drop(req, res);
      }
      chunks.push(chunk);
    }
  } catch {
    return drop(req, res);
  } finally {
    clearTimeout(deadline);
    opts.budget.held -= size;
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return send(res, 400, { message: 'body is not JSON' });
  }
  try {
    const answer = await opts.handle(path, body);
    send(res, answer.code, answer.body);
  } catch (e) {
    opts.log.warn('admission request failed', { error: errorMessage(e) });
    send(res, 500, { message: 'internal error' });
  }
}

/** Stops reading a request: its HTTP/2 stream is cancelled, an HTTP/1.1 connection closed. */
function drop(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): void {
  if ('stream' in res) res.stream.close(constants.NGHTTP2_CANCEL);
  else req.socket.destroy();
}

function send(res: ServerResponse | Http2ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = code;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
