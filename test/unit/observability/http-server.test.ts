import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { createMetrics } from '../../../src/observability/metrics.ts';
import { startHttpServers } from '../../../src/observability/http-server.ts';
import type { HttpServers, MetricsAccess } from '../../../src/observability/http-server.ts';
import { selfSignedCert } from '../../../src/observability/self-signed-cert.ts';

const quiet = { info: () => {}, warn: () => {} };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  address: string,
  path: string,
  opts: {
    method?: string;
    body?: string;
    agent?: Agent;
    authorization?: string;
    /** Over TLS, trusting this certificate for localhost. */
    ca?: string;
  } = {},
): Promise<Reply> {
  const [host, port] = address.split(':') as [string, string];
  const headers: Record<string, string | number> = {};
  if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  const tls = opts.ca === undefined ? {} : { ca: opts.ca, servername: 'localhost' };
  return new Promise((resolve, reject) => {
    const req = (opts.ca === undefined ? request : httpsRequest)(
      {
        host,
        port: Number(port),
        path,
        method: opts.method ?? 'GET',
        agent: opts.agent,
        headers,
        ...tls,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('observability/http-server', () => {
  let servers: HttpServers | undefined;
  let healthy = true;
  let ready = false;
  const start = (metrics = '127.0.0.1:0', probes = '127.0.0.1:0') =>
    startHttpServers({
      metricsBindAddress: metrics,
      probeBindAddress: probes,
      registry: createMetrics({ version: '9.9.9', collectDefault: false }).registry,
      healthz: () => ({ ok: healthy, detail: 'watch pods silent for 5m' }),
      readyz: () => ({ ok: ready, detail: 'caches not synced: pods' }),
      log: quiet,
      closeGraceMs: 50,
    });

  beforeEach(() => {
    healthy = true;
    ready = false;
  });
  afterEach(async () => {
    await servers?.close();
    servers = undefined;
  });

  it('serves /metrics in the Prometheus text format on the metrics address only', async () => {
    servers = await start();
    expect(servers.metricsAddress).to.match(/^127\.0\.0\.1:\d+$/);
    expect(servers.probeAddress).to.not.equal(servers.metricsAddress);
    const res = await call(servers.metricsAddress, '/metrics');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(res.body).to.include('deployguard_build_info{version="9.9.9"} 1');
    expect((await call(servers.probeAddress, '/metrics')).status).to.equal(404);
    expect((await call(servers.metricsAddress, '/healthz')).status).to.equal(404);
  });

  it('switches /healthz and /readyz between 200 ok and 503 with the detail', async () => {
    servers = await start();
    expect(await call(servers.probeAddress, '/healthz')).to.deep.include({
      status: 200,
      body: 'ok\n',
    });
    expect(await call(servers.probeAddress, '/readyz')).to.deep.include({
      status: 503,
      body: 'caches not synced: pods\n',
    });
    ready = true;
    healthy = false;
    expect(await call(servers.probeAddress, '/readyz?verbose')).to.deep.include({ status: 200 });
    expect(await call(servers.probeAddress, '/healthz')).to.deep.include({
      status: 503,
      body: 'watch pods silent for 5m\n',
    });
  });

  it('answers 404 for other paths, 405 for other methods, 413 for bodies, and HEAD without body', async () => {
    servers = await start();
    expect((await call(servers.probeAddress, '/')).status).to.equal(404);
    expect((await call(servers.probeAddress, '/healthz/x')).status).to.equal(404);
    const post = await call(servers.probeAddress, '/healthz', { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.allow).to.equal('GET, HEAD');
    const withBody = await call(servers.metricsAddress, '/metrics', { method: 'GET', body: 'x' });
    expect(withBody.status).to.equal(413);
    const head = await call(servers.metricsAddress, '/metrics', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.body).to.equal('');
    expect(Number(head.headers['content-length'])).to.be.greaterThan(100);
  });

  it('refuses a chunked body and closes the connection', async () => {
    servers = await start();
    const [host, port] = servers.metricsAddress.split(':') as [string, string];
    const socket = connect(Number(port), host);
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.write(
      'GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n',
    );
    await new Promise((resolve) => socket.once('close', resolve));
    expect(out).to.match(/^HTTP\/1\.1 413 /);
    expect(out.toLowerCase()).to.include('connection: close');
  });

  it('disables a server with "0" and reports an empty address', async () => {
    servers = await start('0', '127.0.0.1:0');
    expect(servers.metricsAddress).to.equal('');
    expect((await call(servers.probeAddress, '/healthz')).status).to.equal(200);
  });

  it('serves every route on one server when both addresses are the same', async () => {
    const probe = await start();
    const port = probe.probeAddress.split(':')[1];
    await probe.close(); // a port that was just free
    servers = await start(`127.0.0.1:${port}`, `127.0.0.1:${port}`);
    expect(servers.metricsAddress).to.equal(servers.probeAddress);
    expect((await call(servers.metricsAddress, '/metrics')).status).to.equal(200);
    expect((await call(servers.metricsAddress, '/readyz')).status).to.equal(503);
  });

  it('rejects when the port is taken, closing what it had started', async () => {
    servers = await start();
    const err = await start('127.0.0.1:0', servers.probeAddress).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/EADDRINUSE/);
  });

  it('close() resolves promptly with an idle keep-alive connection open', async () => {
    servers = await start();
    const agent = new Agent({ keepAlive: true });
    await call(servers.probeAddress, '/healthz', { agent });
    const t0 = Date.now();
    await servers.close();
    servers = undefined;
    expect(Date.now() - t0).to.be.lessThan(1000);
    agent.destroy();
  });

  it('close() cuts a client stuck sending its headers after the grace', async () => {
    servers = await start();
    const [host, port] = servers.probeAddress.split(':') as [string, string];
    const socket = connect(Number(port), host);
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finishes its headers
    const t0 = Date.now();
    await servers.close();
    servers = undefined;
    expect(Date.now() - t0).to.be.lessThan(1000);
    socket.destroy();
  });
});

describe('observability/http-server: secure metrics', () => {
  let servers: HttpServers | undefined;
  const made = selfSignedCert({
    commonName: 'deployguard-metrics',
    dnsNames: ['localhost'],
    now: Date.now(),
  });
  const seen: (string | undefined)[] = [];
  const decisions: Record<string, MetricsAccess> = {
    'Bearer reader': 'allowed',
    'Bearer tenant': 'forbidden',
    'Bearer later': 'unavailable',
  };
  const start = () =>
    startHttpServers({
      metricsBindAddress: '127.0.0.1:0',
      probeBindAddress: '127.0.0.1:0',
      registry: createMetrics({ version: '9.9.9', collectDefault: false }).registry,
      healthz: () => ({ ok: true, detail: '' }),
      readyz: () => ({ ok: true, detail: '' }),
      log: quiet,
      closeGraceMs: 50,
      metricsSecurity: {
        tls: () => made,
        authorize: async (authorization) => {
          seen.push(authorization);
          return (authorization && decisions[authorization]) || 'unauthenticated';
        },
      },
    });

  const tlsCall = (address: string, authorization?: string): Promise<Reply> =>
    call(address, '/metrics', { ca: made.cert, authorization });

  afterEach(async () => {
    await servers?.close();
    servers = undefined;
  });

  it('serves /metrics over TLS only to a token allowed it: 401, 403, 503, 200', async () => {
    servers = await start();
    const none = await tlsCall(servers.metricsAddress);
    expect(none.status).to.equal(401);
    expect(none.headers['www-authenticate']).to.equal('Bearer');
    expect(none.body).to.not.include('deployguard_');
    expect((await tlsCall(servers.metricsAddress, 'Bearer tenant')).status).to.equal(403);
    const later = await tlsCall(servers.metricsAddress, 'Bearer later');
    expect(later.status).to.equal(503);
    expect(later.headers['retry-after']).to.equal('5');
    const ok = await tlsCall(servers.metricsAddress, 'Bearer reader');
    expect(ok.status).to.equal(200);
    expect(ok.body).to.include('deployguard_build_info');
    expect(seen).to.include('Bearer reader');
  });

  it('speaks no plain HTTP on the metrics port; the probes stay plain HTTP for the kubelet', async () => {
    servers = await start();
    const plain = await call(servers.metricsAddress, '/metrics').then(
      (r) => r.status,
      () => 'refused',
    );
    expect(plain).to.not.equal(200);
    expect((await call(servers.probeAddress, '/healthz')).status).to.equal(200);
  });

  it('refuses one address for secure metrics and plain probes', async () => {
    const err = await startHttpServers({
      metricsBindAddress: '127.0.0.1:18999',
      probeBindAddress: '127.0.0.1:18999',
      registry: createMetrics({ version: '9.9.9', collectDefault: false }).registry,
      healthz: () => ({ ok: true, detail: '' }),
      readyz: () => ({ ok: true, detail: '' }),
      log: quiet,
      metricsSecurity: { tls: () => made, authorize: async () => 'allowed' },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/own address/);
  });

  it('serves neither when both are disabled, metrics secure or not', async () => {
    const servers = await startHttpServers({
      metricsBindAddress: '0',
      probeBindAddress: '0',
      registry: createMetrics({ version: '9.9.9', collectDefault: false }).registry,
      healthz: () => ({ ok: true, detail: '' }),
      readyz: () => ({ ok: true, detail: '' }),
      log: quiet,
      metricsSecurity: { tls: () => made, authorize: async () => 'allowed' },
    });
    expect([servers.metricsAddress, servers.probeAddress]).to.deep.equal(['', '']);
    await servers.close();
  });
});
