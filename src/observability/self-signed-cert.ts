// A self-signed certificate for the metrics endpoint when the installer mounts none, as
// controller-runtime's secure metrics do: traffic is encrypted and the bearer token Prometheus sends
// is never in clear text, while identity comes from the token, not from the certificate (scrapers
// skip verification, or are given a real certificate with --metrics-cert-dir). Node can sign but
// not build certificates, so the DER is written here: one ECDSA P-256 key, one certificate, the
// handful of ASN.1 shapes that takes (ADR 8).
import {
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { isIP } from 'node:net';

export interface KeyAndCert {
  /** PEM */
  cert: string;
  /** PEM (PKCS #8) */
  key: string;
}

const VALID_MS = 365 * 24 * 3600_000;

export function selfSignedCert(opts: {
  commonName: string;
  dnsNames: string[];
  now: number;
  /** Source of the serial number's bytes (tests); default crypto.randomBytes. */
  random?: (n: number) => Buffer;
}): KeyAndCert {
  return issueCertificate({ ...opts, notAfter: opts.now + VALID_MS });
}

/**
 * A certificate: self-signed, or signed by `issuer` (a CA made with `ca: true`). A CA may sign
 * certificates; anything else is a TLS server certificate for `dnsNames` (IP addresses are written
 * as IP SANs, which is what a client that dials an address checks).
 */
export function issueCertificate(opts: {
  commonName: string;
  dnsNames?: string[];
  now: number;
  notAfter: number;
  ca?: boolean;
  issuer?: KeyAndCert & { commonName: string };
  random?: (n: number) => Buffer;
}): KeyAndCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signer: KeyObject = opts.issuer ? createPrivateKey(opts.issuer.key) : privateKey;
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const subject = distinguishedName(opts.commonName);
  const issuer = opts.issuer ? distinguishedName(opts.issuer.commonName) : subject;
  const serial = (opts.random ?? randomBytes)(16);
  // Positive (top bit clear) and minimal (DER forbids a leading zero byte before a byte under
  // 0x80: OpenSSL refuses such a certificate as "illegal padding", once in about 200 starts).
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40;
  const critical = tlv(0x01, Buffer.from([0xff]));
  const extensions = opts.ca
    ? [
        // basicConstraints: a CA, no intermediates below it (critical)
        seq(
          oid('2.5.29.19'),
          critical,
          octets(seq(tlv(0x01, Buffer.from([0xff])), integer(Buffer.from([0])))),
        ),
        // keyUsage: keyCertSign, cRLSign (critical)
        seq(oid('2.5.29.15'), critical, octets(tlv(0x03, Buffer.from([0x01, 0x06])))),
      ]
    : [
        // basicConstraints: not a CA (critical)
        seq(oid('2.5.29.19'), critical, octets(seq())),
        // keyUsage: digitalSignature (critical)
        seq(oid('2.5.29.15'), critical, octets(tlv(0x03, Buffer.from([0x07, 0x80])))),
        // extKeyUsage: serverAuth
        seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1')))),
        seq(oid('2.5.29.17'), octets(seq(...(opts.dnsNames ?? []).map(subjectAltName)))),
      ];
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    issuer,
    // A little slack before now, for a client whose clock runs behind.
    seq(time(opts.now - 3600_000), time(opts.notAfter)),
    subject,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, signer); // DER-encoded ECDSA signature
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return {
    cert: pem('CERTIFICATE', der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function distinguishedName(commonName: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

/** dNSName, or iPAddress for a literal IPv4/IPv6 address. */
function subjectAltName(name: string): Buffer {
  const family = isIP(name);
  if (family === 4) return tlv(0x87, Buffer.from(name.split('.').map(Number)));
  if (family === 6) return tlv(0x87, ipv6Bytes(name));
  return tlv(0x82, Buffer.from(name, 'ascii'));
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail] = address.split('::');
  const words = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((w) => parseInt(w, 16));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (content: Buffer): Buffer => tlv(0x04, content);

function integer(bigEndian: Buffer): Buffer {
  // Two's complement: a leading 1 bit would read as negative.
  const needsZero = ((bigEndian[0] ?? 0) & 0x80) !== 0;
  return tlv(0x02, needsZero ? Buffer.concat([Buffer.from([0]), bigEndian]) : bigEndian);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift(v % 128);
      if (v < 128) break;
    }
    out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime after. */
function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2026-12-03T10:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z'; // 20261203100000Z
  const year = new Date(ms).getUTCFullYear();
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(0x18, Buffer.from(digits, 'ascii'));
}
