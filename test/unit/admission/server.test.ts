import { expect } from 'chai';
import { connect } from 'node:http2';
import { request } from 'node:https';
import { silentLog } from '../../../src/base/log.ts';
import {
  startAdmissionServer,
  MAX_BODY_BYTES_IN_FLIGHT,
  MAX_REVIEW_BYTES,
  type AdmissionServer,
} from '../../../src/admission/server.ts';
import { issueCertificate } from '../../../src/observability/self-signed-cert.ts';

const now = Date.now();
const ca = {
  ...issueCertificate({ commonName: 'ca', now, notAfter: now + 3600_000, ca: true }),
  commonName: 'ca',
};
const leaf = () =>
  issueCertificate({
    commonName: '127.0.0.1',
    dnsNames: ['127.0.0.1'],
    now,
    notAfter: now + 3600_000,
    issuer: ca,
  });

function call(
  s: AdmissionServer,
  opts: { method?: string; path?: string; body?: string | Buffer; trust?: string },
): Promise<{ code: number; body: string }> {
  const [host, port] = s.address.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        method: opts.method ?? 'POST',
        path: opts.path ?? '/validate/workloads',
        ca: opts.trust ?? ca.cert,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('admission: server', () => {
  let server: AdmissionServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('answers POSTed JSON on its paths only, and refuses oversized or malformed bodies', async () => {
    const seen: unknown[] = [];
    server = await startAdmissionServer({
      bindAddress: '127.0.0.1:0',
      tls: leaf(),
      paths: ['/validate/workloads'],
      handle: async (_p, body) => {
        seen.push(body);
        return { code: 200, body: { ok: true } };
      },
      log: silentLog,
    });
    expect(await call(server, { body: '{"a":1}' })).to.deep.equal({
      code: 200,
      body: '{"ok":true}',
    });
    expect(seen).to.deep.equal([{ a: 1 }]);
    expect((await call(server, { path: '/metrics', body: '{}' })).code).to.equal(404);
    expect((await call(server, { method: 'GET' })).code).to.equal(405);
    expect((await call(server, { body: 'not json' })).code).to.equal(400);
    const huge = await call(server, { body: Buffer.alloc(MAX_REVIEW_BYTES + 1, 0x20) }).catch(
      () => ({ code: 413, body: '' }),
    );
    expect(huge.code).to.equal(413);
    expect(seen).to.have.length(1);
  });

  it('serves a renewed certificate from the next handshake, with no restart', async () => {
    const first = leaf();
    server = await startAdmissionServer({
      bindAddress: '127.0.0.1:0',
      tls: first,
      paths: ['/validate/workloads'],
      handle: async () => ({ code: 200, body: {} }),
      log: silentLog,
    });
    const other = {
      ...issueCertificate({ commonName: 'ca2', now, notAfter: now + 3600_000, ca: true }),
      commonName: 'ca2',
    };
    const renewed = issueCertificate({
      commonName: '127.0.0.1',
      dnsNames: ['127.0.0.1'],
      now,
      notAfter: now + 3600_000,
      issuer: other,
    });
    server.useCertificate(renewed);
    expect((await call(server, { body: '{}', trust: other.cert })).code).to.equal(200);
    const old = await call(server, { body: '{}' }).catch((e: Error) => e);
    expect(old).to.be.instanceOf(Error);
  });

  it('holds at most its byte budget of bodies at once, however many streams send them: 503 beyond', async () => {
    server = await startAdmissionServer({
      bindAddress: '127.0.0.1:0',
      tls: leaf(),
      paths: ['/validate/workloads'],
      handle: async () => ({ code: 200, body: {} }),
      log: silentLog,
    });
    const session = connect(`https://${server.address}`, { ca: ca.cert });
    const chunk = Buffer.alloc(MAX_REVIEW_BYTES - 1024, 0x20);
    const streams = Math.ceil(MAX_BODY_BYTES_IN_FLIGHT / chunk.length) + 2;
    // Bodies that never end: each holds its bytes until the server lets go of them.
    const status = await new Promise<number>((resolve) => {
      for (let i = 0; i < streams; i++) {
        const st = session.request({ ':method': 'POST', ':path': '/validate/workloads' });
        st.on('response', (h) => resolve(Number(h[':status'])));
        st.on('error', () => undefined);
        st.write(chunk);
      }
    });
    session.destroy();
    expect(status).to.equal(503);
  });
});
