// The webhook's HTTPS endpoint. Only the API server should call it, but anyone on the pod network
// can reach it, so it is as guarded as the metrics endpoint: POST of a bounded JSON body only,
// tight timeouts and a connection cap. The certificate is swapped in place when it rotates.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseBindAddress } from '../base/bind-address.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { Answer } from './handler.ts';

/** An AdmissionReview holds the object and the old one; the API server's own limit is 3 MiB each. */
export const MAX_REVIEW_BYTES = 7 * 1024 * 1024;

export interface AdmissionServer {
  address: string;
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
  const server: Server = createServer(
    {
      ...opts.tls,
      minVersion: 'TLSv1.2',
      handshakeTimeout: 5_000,
      requestTimeout: 15_000,
      headersTimeout: 5_000,
      keepAliveTimeout: 30_000,
    },
    (req, res) => void serve(req, res, opts),
  );
  server.maxConnections = 256;
  server.setTimeout(30_000, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: parsed.port, host: parsed.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('tlsClientError', () => {});
  server.on('error', (e) => opts.log.warn('admission server error', { error: errorMessage(e) }));
  const a = server.address() as AddressInfo;
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    useCertificate: (tls) => server.setSecureContext(tls),
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), 2000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  opts: {
    paths: readonly string[];
    handle(path: string, body: unknown): Promise<Answer>;
    log: Pick<Log, 'warn'>;
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
    res.setHeader('Connection', 'close');
    return send(res, 413, { message: 'review too large' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REVIEW_BYTES) {
        res.setHeader('Connection', 'close');
        return send(res, 413, { message: 'review too large' });
      }
      chunks.push(chunk);
    }
  } catch {
    return void res.destroy();
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

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = code;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
