import { expect } from 'chai';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { selfSignedCert } from '../../../src/observability/self-signed-cert.ts';

describe('observability/self-signed-cert', () => {
  const now = Date.parse('2026-12-03T10:00:00Z');

  it('is a valid X.509 v3 server certificate, signed by its own key, for a year', () => {
    const made = selfSignedCert({
      commonName: 'deployguard-metrics',
      dnsNames: ['localhost', 'a.b.svc'],
      now,
    });
    const x = new X509Certificate(made.cert);
    expect(x.subject).to.equal('CN=deployguard-metrics');
    expect(x.issuer).to.equal(x.subject);
    expect(x.verify(createPublicKey(createPrivateKey(made.key)))).to.equal(true);
    expect(x.checkPrivateKey(createPrivateKey(made.key))).to.equal(true);
    expect(x.ca).to.equal(false);
    expect(x.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
    expect(x.subjectAltName).to.equal('DNS:localhost, DNS:a.b.svc');
    expect(Date.parse(x.validFrom)).to.equal(now - 3600_000);
    expect(Date.parse(x.validTo)).to.equal(now + 365 * 24 * 3600_000);
  });

  it('differs every time (key and serial), and writes GeneralizedTime from 2050', () => {
    const a = selfSignedCert({ commonName: 'x', dnsNames: ['localhost'], now });
    const b = selfSignedCert({ commonName: 'x', dnsNames: ['localhost'], now });
    expect(new X509Certificate(a.cert).serialNumber).to.not.equal(
      new X509Certificate(b.cert).serialNumber,
    );
    expect(a.key).to.not.equal(b.key);
    const late = Date.parse('2049-12-31T12:00:00Z');
    const x = new X509Certificate(
      selfSignedCert({ commonName: 'x', dnsNames: ['localhost'], now: late }).cert,
    );
    expect(Date.parse(x.validTo)).to.equal(late + 365 * 24 * 3600_000);
  });

  it('writes a serial OpenSSL accepts whatever the random bytes (minimal, positive DER)', () => {
    for (const byte of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const made = selfSignedCert({
        commonName: 'x',
        dnsNames: ['localhost'],
        now,
        random: (n) => Buffer.alloc(n, byte),
      });
      expect(() => createSecureContext(made), `serial bytes 0x${byte.toString(16)}`).to.not.throw();
    }
  });
});
