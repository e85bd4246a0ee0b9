// Secure metrics as configured: the certificate (mounted, re-read so a rotation is served, or
// self-signed at start) and the API server's word on each bearer token. Followers are scraped too,
// so this asks the API server directly, not through the leader gate.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../base/clock.ts';
import type { Config } from '../config.ts';
import type { KubeApi } from '../kube/api.ts';
import { TokenAccess } from '../kube/token-access.ts';
import type { MetricsSecurity } from '../observability/http-server.ts';
import { selfSignedCert } from '../observability/self-signed-cert.ts';

/** The non-resource request the shipped deployguard-metrics-reader ClusterRole grants. */
export const METRICS_ACCESS = { path: '/metrics', verb: 'get' } as const;

export function metricsSecurity(
  config: Readonly<Config>,
  api: KubeApi,
  clock: Clock,
): MetricsSecurity | undefined {
  if (!config.metricsSecure) return undefined;
  const dir = config.metricsCertDir;
  let tls: () => { cert: string; key: string };
  if (dir !== undefined) {
    tls = () => ({
      cert: readFileSync(join(dir, 'tls.crt'), 'utf8'),
      key: readFileSync(join(dir, 'tls.key'), 'utf8'),
    });
    tls(); // a missing or unreadable file stops the start, with the path in the error
  } else {
    const made = selfSignedCert({
      commonName: 'deployguard-metrics',
      dnsNames: ['localhost'],
      now: clock.now(),
    });
    tls = () => made;
  }
  const access = new TokenAccess(api, { ...METRICS_ACCESS, clock });
  return { tls, authorize: (authorization) => access.check(authorization) };
}
