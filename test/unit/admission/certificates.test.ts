import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { nextPki, pemBundle, type Pki } from '../../../src/admission/certificates.ts';

const DAY = 24 * 3600_000;
const settings = {
  hosts: ['127.0.0.1', 'localhost'],
  caValidityMs: 300 * DAY,
  certValidityMs: 90 * DAY,
};
const t0 = Date.parse('2026-12-08T00:00:00Z');
const never = (): boolean => false;
const always = (): boolean => true;

function made(p: ReturnType<typeof nextPki>): Pki {
  expect(p, 'a change').to.not.equal(undefined);
  return p!.pki;
}

/** An HTTPS request to a server holding `pki`, trusting only `cas`: does the handshake verify? */
async function handshake(pki: Pki, cas: readonly string[]): Promise<boolean> {
  const server = createServer({ cert: pki.cert, key: pki.key }, (_q, s) => s.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, ca: pemBundle(cas), path: '/' }, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
  } finally {
    server.close();
  }
}

describe('admission: certificates', () => {
  it('makes a CA and a serving certificate it signs, for IP and DNS names, that a client verifies', async () => {
    const pki = made(nextPki(undefined, t0, settings, never));
    expect(pki.cas).to.have.length(1);
    const leaf = new X509Certificate(pki.cert);
    expect(leaf.subjectAltName).to.equal('IP Address:127.0.0.1, DNS:localhost');
    expect(leaf.ca).to.equal(false);
    expect(new X509Certificate(pki.cas[0]!).ca).to.equal(true);
    expect(await handshake(pki, pki.cas)).to.equal(true);
    const other = made(nextPki(undefined, t0, settings, never));
    expect(await handshake(pki, other.cas), 'another CA does not verify it').to.equal(false);
  });

  it('leaves a healthy PKI alone and renews the serving certificate with a third of its life left', () => {
    const pki = made(nextPki(undefined, t0, settings, never));
    expect(nextPki(pki, t0 + 59 * DAY, settings, always)).to.equal(undefined);
    const renewed = made(nextPki(pki, t0 + 61 * DAY, settings, never));
    expect(renewed.cas).to.deep.equal(pki.cas);
    expect(renewed.cert).to.not.equal(pki.cert);
    expect(
      new X509Certificate(renewed.cert).checkIssued(new X509Certificate(pki.cas[0]!)),
    ).to.equal(true);
  });

  it('trusts a new CA before using it: the bundle grows first, the certificate moves once published', () => {
    let pki = made(nextPki(undefined, t0, settings, never));
    const oldCa = pki.cas[0]!;
    // 201 days into 300: under a third left. (The serving certificate was renewed on the way.)
    pki = made(nextPki(pki, t0 + 61 * DAY, settings, never));
    const rolled = made(nextPki(pki, t0 + 201 * DAY, settings, never));
    expect(rolled.cas).to.have.length(2);
    expect(rolled.cas[1]).to.equal(oldCa);
    expect(rolled.cert, 'still served by the old CA').to.equal(pki.cert);
    expect(nextPki(rolled, t0 + 201 * DAY, settings, never), 'not yet published').to.equal(
      undefined,
    );
    const moved = made(nextPki(rolled, t0 + 201 * DAY, settings, (ca) => ca === rolled.cas[0]));
    // (Dated months ahead, so checked by signature rather than by a handshake today.)
    const newCa = new X509Certificate(rolled.cas[0]!);
    expect(new X509Certificate(moved.cert).verify(newCa.publicKey), 'new CA').to.equal(true);
    expect(new X509Certificate(pki.cert).verify(new X509Certificate(oldCa).publicKey)).to.equal(
      true,
    );
    // Once the old CA expires it leaves the bundle.
    const later = made(nextPki(moved, t0 + 301 * DAY, settings, always));
    expect(later.cas).to.deep.equal([rolled.cas[0]]);
  });

  it('starts over when the stored PKI is unusable, and re-issues for other names', () => {
    const pki = made(nextPki(undefined, t0, settings, never));
    expect(
      nextPki(
        { ...pki, key: made(nextPki(undefined, t0, settings, never)).key },
        t0,
        settings,
        never,
      )?.why,
    ).to.equal('no usable certificates');
    expect(nextPki({ ...pki, cert: 'junk' }, t0, settings, never)?.why).to.equal(
      'no usable certificates',
    );
    const moved = nextPki(pki, t0, { ...settings, hosts: ['svc.ns.svc'] }, never);
    expect(moved?.why).to.equal('the serving certificate is for other names');
    expect(new X509Certificate(moved!.pki.cert).subjectAltName).to.equal('DNS:svc.ns.svc');
  });
});
