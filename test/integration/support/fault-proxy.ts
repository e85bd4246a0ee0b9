// A small HTTPS proxy in front of the real kube-apiserver that injects the failures a client meets
// in production: 429 with Retry-After, 5xx, 401 (revoked credentials), connection resets, watch
// streams ended by the server, and a silent blackhole. It is test tooling, not a fake API server:
// every request it does not fault is forwarded to the real API server as is (Authorization
// included) and the answer streamed back, so watches behave exactly as they do without it.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../cluster.ts';

/** One request the proxy received, as tests match and inspect it. */
export interface ProxiedRequest {
  id: number;
  method: string;
  /** URL path without the query, e.g. '/api/v1/pods'. */
  path: string;
  query: Record<string, string>;
  watch: boolean;
  /** A digest of the Authorization header (never the secret itself); '' when absent. */
  credential: string;
  /** Date.now() on arrival. */
  at: number;
  /** The status sent to the client, once sent. */
  status?: number;
  /** True when the proxy answered itself (an injected fault). */
  faulted: boolean;
}

export type Match = (r: ProxiedRequest) => boolean;

export interface FaultHandle {
  /** How many requests this fault has answered so far. */
  served(): number;
}

interface Fault {
  status: number;
  match: Match;
  left: number;
  served: number;
  retryAfterSeconds?: number;
}

/** A request being forwarded: what reset and closeStreams act on. */
interface Exchange {
  entry: ProxiedRequest;
  res: http.ServerResponse;
  socket: Socket;
  upstream?: http.ClientRequest;
  /** Set once the proxy itself ended or broke the exchange: upstream noise is then ignored. */
  detached: boolean;
}

/** The digest ProxiedRequest.credential holds for a bearer token. */
export function credentialOf(token: string): string {
  return createHash('sha256').update(`Bearer ${token}`).digest('hex').slice(0, 16);
}

const REASONS: Record<number, string> = {
  401: 'Unauthorized',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export class FaultProxy {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** PEM of the CA that signed the proxy's certificate. */
  readonly ca: Buffer;
  readonly requests: ProxiedRequest[] = [];
  readonly dir: string;
  readonly #server: https.Server;
  readonly #agent: https.Agent;
  readonly #upstream: URL;
  readonly #sockets = new Set<Socket>();
  readonly #exchanges = new Set<Exchange>();
  readonly #faults: Fault[] = [];
  /** Work held back while blackholed, run in order when it lifts. */
  #held: (() => void)[] | undefined;
  #heldText = '';

  private constructor(
    server: https.Server,
    upstream: URL,
    upstreamCa: Buffer,
    ca: Buffer,
    dir: string,
  ) {
    this.#server = server;
    this.#upstream = upstream;
    // A fresh upstream connection per request: a reused idle one the API server closes at the
    // same moment would be a reset nobody injected.
    this.#agent = new https.Agent({ keepAlive: false, ca: upstreamCa });
    this.ca = ca;
    this.dir = dir;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
      this.#onRequest(req, res),
    );
    server.on('secureConnection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** Generates a throwaway CA and a certificate for 127.0.0.1, and listens on a free port. */
  static async start(upstream: string, upstreamCa: Buffer): Promise<FaultProxy> {
    const dir = mkdtempSync(join(tmpdir(), 'dg-fault-proxy-'));
    const { ca, key, cert } = await makeCertificates(dir);
    const server = https.createServer({ key, cert });
    // Only injected faults may break a connection: no idle or whole-request timeouts of our own
    // (a watch lasts minutes; the client's keep-alive sockets idle between requests).
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    server.timeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FaultProxy(server, new URL(upstream), upstreamCa, ca, dir);
  }

  /**
   * Answers the next `count` requests matching `match` with `status` (and a Status body, like
   * the API server's own), instead of forwarding them. 429s carry Retry-After.
   */
  fail(
    status: number,
    match: Match,
    opts: { count?: number; retryAfterSeconds?: number } = {},
  ): FaultHandle {
    const fault: Fault = { status, match, left: opts.count ?? 1, served: 0 };
    const retryAfter = opts.retryAfterSeconds ?? (status === 429 ? 1 : undefined);
    if (retryAfter !== undefined) fault.retryAfterSeconds = retryAfter;
    this.#faults.push(fault);
    return { served: () => fault.served };
  }

  /**
   * Breaks connections at once, as a crashed load balancer would: every client connection (idle
   * keep-alive ones included) or only those carrying an exchange that matches. Returns how many
   * exchanges in flight were broken.
   */
  reset(match?: Match): number {
    let broken = 0;
    for (const x of [...this.#exchanges]) {
      if (match && !match(x.entry)) continue;
      broken++;
      this.#break(x);
    }
    if (!match) for (const s of [...this.#sockets]) destroyHard(s);
    return broken;
  }

  /** Ends matching responses in flight cleanly, as the API server ends a watch at its timeout. */
  closeStreams(match: Match): number {
    let closed = 0;
    for (const x of [...this.#exchanges]) {
      if (!match(x.entry) || !x.res.headersSent) continue;
      closed++;
      x.detached = true;
      this.#exchanges.delete(x);
      x.upstream?.destroy();
      x.res.end();
    }
    return closed;
  }

  /** From now on, accept but answer nothing: new requests and response bytes are held back. */
  blackhole(): void {
    this.#held ??= [];
    this.#heldText = '';
  }

  /** Delivers everything held back, in order, and forwards normally again. */
  lift(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const f of held) f();
  }

  /** The response bytes held back by the current blackhole, as text. */
  heldText(): string {
    return this.#heldText;
  }

  /** Requests received at or after `since` (Date.now()) that match. */
  seen(match: Match, since = 0): ProxiedRequest[] {
    return this.requests.filter((r) => r.at >= since && match(r));
  }

  async close(): Promise<void> {
    this.lift();
    this.reset();
    this.#agent.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  #hold(f: () => void): void {
    if (this.#held) this.#held.push(f);
    else f();
  }

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://proxy');
    const auth = req.headers.authorization;
    const entry: ProxiedRequest = {
      id: this.requests.length + 1,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      watch: url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1',
      credential: auth ? createHash('sha256').update(auth).digest('hex').slice(0, 16) : '',
      at: Date.now(),
      faulted: false,
    };
    this.requests.push(entry);
    const x: Exchange = { entry, res, socket: req.socket, detached: false };
    this.#exchanges.add(x);
    res.on('close', () => {
      this.#exchanges.delete(x);
      // The client went away first: let the API server know too.
      if (!res.writableFinished) x.upstream?.destroy();
    });
    // The request body is read now (it is small) so a held request is forwarded whole.
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => this.#hold(() => this.#handle(x, req, Buffer.concat(body))));
  }

  #handle(x: Exchange, req: http.IncomingMessage, body: Buffer): void {
    if (x.detached || x.res.destroyed) return;
    const fault = this.#faults.find((f) => f.left > 0 && f.match(x.entry));
    if (fault) {
      fault.left--;
      fault.served++;
      x.entry.faulted = true;
      x.entry.status = fault.status;
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (fault.retryAfterSeconds !== undefined)
        headers['Retry-After'] = String(fault.retryAfterSeconds);
      x.res.writeHead(fault.status, headers);
      x.res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: `injected by the fault proxy`,
          reason: REASONS[fault.status] ?? '',
          code: fault.status,
          ...(fault.retryAfterSeconds === undefined
            ? {}
            : { details: { retryAfterSeconds: fault.retryAfterSeconds } }),
        }),
      );
      return;
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    delete headers['keep-alive'];
    const up = https.request(
      new URL(req.url ?? '/', this.#upstream),
      { method: req.method, headers, agent: this.#agent },
      (upRes) => this.#respond(x, upRes),
    );
    x.upstream = up;
    up.on('error', () => {
      if (!x.detached) this.#break(x);
    });
    up.end(body);
  }

  #respond(x: Exchange, upRes: http.IncomingMessage): void {
    const headers = { ...upRes.headers };
    delete headers.connection;
    delete headers['keep-alive'];
    delete headers['transfer-encoding'];
    const status = upRes.statusCode ?? 502;
    this.#hold(() => {
      if (x.detached) return;
      x.entry.status = status;
      x.res.writeHead(status, headers);
      // Watch events must reach the client as they come, not when a buffer fills.
      x.res.flushHeaders();
    });
    upRes.on('data', (c: Buffer) => {
      if (this.#held) this.#heldText += c.toString('utf8');
      this.#hold(() => {
        if (!x.detached) x.res.write(c);
      });
    });
    upRes.on('end', () =>
      this.#hold(() => {
        if (!x.detached) x.res.end();
      }),
    );
    upRes.on('error', () => {
      if (!x.detached) this.#break(x);
    });
  }

  #break(x: Exchange): void {
    x.detached = true;
    this.#exchanges.delete(x);
    x.upstream?.destroy();
    destroyHard(x.socket);
  }
}

/** Closes a socket with a TCP reset where the platform allows it, as a dropped connection does. */
function destroyHard(s: Socket): void {
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

/** A CA and a server certificate for IP 127.0.0.1 signed by it, made with the openssl CLI. */
async function makeCertificates(dir: string): Promise<{ ca: Buffer; key: Buffer; cert: Buffer }> {
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=deployguard-fault-proxy-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', [
    'req',
    ...ec,
    '-keyout',
    p('server.key'),
    '-out',
    p('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(
    p('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
      'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    '1',
    '-extfile',
    p('server.ext'),
  ]);
  return {
    ca: readFileSync(p('ca.crt')),
    key: readFileSync(p('server.key')),
    cert: readFileSync(p('server.crt')),
  };
}
