// Which Kubernetes minors' Pod Security Standards the engine knows. Every upstream versioned check
// of k8s.io/pod-security-admission v0.36 is modelled, so every minor from 1.0 to 1.36 is exact;
// upstream made no policy change after 1.35, so 1.36 (and `latest`) judge like 1.35.

/** The oldest minor upstream defines (`v1.0`). */
export const OLDEST_PSS_MINOR = 0;
/** The newest minor we implement; `latest` means this one. */
export const LATEST_PSS_MINOR = 36;

const VERSION = /^v1\.(0|[1-9][0-9]{0,2})$/;

export function parsePssVersion(v: string): { minor: number } | { error: string } {
  if (v === 'latest') return { minor: LATEST_PSS_MINOR };
  const m = typeof v === 'string' ? VERSION.exec(v) : null;
  const minor = m?.[1] === undefined ? NaN : Number(m[1]);
  if (Number.isInteger(minor) && minor >= OLDEST_PSS_MINOR && minor <= LATEST_PSS_MINOR)
    return { minor };
  const shown = typeof v === 'string' ? JSON.stringify(v.slice(0, 64)) : String(v);
  return {
    error: `unsupported Pod Security Standards version ${shown}: use "latest" or "v1.N" with N from ${OLDEST_PSS_MINOR} to ${LATEST_PSS_MINOR}`,
  };
}
