// The webhook's own PKI, decided purely: a CA the API server trusts (the caBundle) and a serving
// certificate it signs, both renewed with a third of their life left, with no restart. A new CA is
// trusted before it is used: it joins the bundle next to the old one, and the serving certificate
// moves to it only once that bundle is published in the webhook configuration, so the API server
// never meets a certificate it can't verify. An expired CA leaves the bundle.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { issueCertificate, type KeyAndCert } from '../observability/self-signed-cert.ts';

export interface Pki {
  /** Trusted CAs, newest first (PEM each): the caBundle. */
  cas: string[];
  /** The newest CA's key (PEM): the one that signs. */
  caKey: string;
  /** The serving certificate and key (PEM). */
  cert: string;
  key: string;
}

export interface PkiSettings {
  /** Names the serving certificate is for: a Service's DNS names, or the --admission-url host. */
  hosts: string[];
  caValidityMs: number;
  certValidityMs: number;
}

/** A Pki that needs nothing done to it, or the one to store instead, and why. */
export function nextPki(
  current: Pki | undefined,
  now: number,
  s: PkiSettings,
  /** Whether the API server has been given this CA (it is in the published caBundle). */
  published: (caPem: string) => boolean,
): { pki: Pki; why: string } | undefined {
  const parsed = current && readPki(current);
  if (!current || !parsed) return { pki: fresh(now, s), why: 'no usable certificates' };
  const cas = parsed.cas.filter((c) => Date.parse(c.validTo) > now);
  const newest = cas[0];
  if (!newest) return { pki: fresh(now, s), why: 'every CA expired' };
  const caIndex = parsed.cas.indexOf(newest);
  const caPem = current.cas[caIndex] as string;
  const caKey = caIndex === 0 ? current.caKey : undefined;
  if (!caKey) return { pki: fresh(now, s), why: "the newest CA's key is missing" };
  if (renewable(newest, now, s.caValidityMs)) {
    const ca = newCa(now, s);
    return {
      pki: {
        ...current,
        cas: [ca.cert, ...current.cas.filter((_, i) => cas.includes(parsed.cas[i]!))],
        caKey: ca.key,
      },
      why: 'the CA has a third of its life left: a new one joins the bundle',
    };
  }
  const pruned = current.cas.filter((_, i) => cas.includes(parsed.cas[i]!));
  const leaf = parsed.cert;
  const byNewest = leaf.checkIssued(newest) && leaf.verify(newest.publicKey);
  const why =
    Date.parse(leaf.validTo) <= now || !byNewest
      ? byNewest
        ? 'the serving certificate expired'
        : published(caPem)
          ? 'the newest CA is published: the serving certificate moves to it'
          : undefined
      : renewable(leaf, now, s.certValidityMs)
        ? 'the serving certificate has a third of its life left'
        : !sameHosts(leaf, s.hosts)
          ? 'the serving certificate is for other names'
          : undefined;
  if (why) {
    const cert = serving(now, s, { cert: caPem, key: caKey, commonName: newest.subject.slice(3) });
    return { pki: { cas: pruned, caKey, cert: cert.cert, key: cert.key }, why };
  }
  if (pruned.length !== current.cas.length)
    return { pki: { ...current, cas: pruned }, why: 'an old CA expired' };
  return undefined;
}

/**
 * Under a third of the configured life left. Measured against the setting, not the certificate's
 * own dates: those start an hour early (for clocks that run behind), which would stretch a short
 * life.
 */
function renewable(c: X509Certificate, now: number, lifeMs: number): boolean {
  return Date.parse(c.validTo) - now < lifeMs / 3;
}

function fresh(now: number, s: PkiSettings): Pki {
  const ca = newCa(now, s);
  const cert = serving(now, s, ca);
  return { cas: [ca.cert], caKey: ca.key, cert: cert.cert, key: cert.key };
}

function newCa(now: number, s: PkiSettings): KeyAndCert & { commonName: string } {
  // A name per CA, so that which CA signed the serving certificate is never ambiguous.
  const commonName = `deployguard-webhook-ca-${now}`;
  return {
    ...issueCertificate({ commonName, now, notAfter: now + s.caValidityMs, ca: true }),
    commonName,
  };
}

function serving(now: number, s: PkiSettings, ca: KeyAndCert & { commonName: string }): KeyAndCert {
  return issueCertificate({
    commonName: s.hosts[0] ?? 'deployguard-webhook',
    dnsNames: s.hosts,
    now,
    notAfter: now + s.certValidityMs,
    issuer: ca,
  });
}

function readPki(p: Pki): { cas: X509Certificate[]; cert: X509Certificate } | undefined {
  try {
    const cas = p.cas.map((c) => new X509Certificate(c));
    const cert = new X509Certificate(p.cert);
    // A key that does not belong to its certificate is as good as none.
    if (!cert.checkPrivateKey(createPrivateKey(p.key))) return undefined;
    if (cas[0] && !cas[0].checkPrivateKey(createPrivateKey(p.caKey))) return undefined;
    return { cas, cert };
  } catch {
    return undefined;
  }
}

function sameHosts(c: X509Certificate, hosts: readonly string[]): boolean {
  const names = (c.subjectAltName ?? '')
    .split(', ')
    .map((n) => n.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean)
    .sort();
  const want = [...hosts].sort();
  return names.length === want.length && names.every((n, i) => n === want[i]);
}

/** The PEM bundle of a list of certificates, as a caBundle or a ca.crt holds it. */
export function pemBundle(cas: readonly string[]): string {
  return cas.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
}

/** The certificates of a PEM bundle, in order. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
}
