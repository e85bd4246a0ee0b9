// Builders shared by the Pod Security Standards unit tests.
import type { PssLevel } from '../../../src/api/policy.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import { checkPodSecurity } from '../../../src/engine/rules/pod-security/index.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';
import type { Finding } from '../../../src/engine/violation.ts';

export type Json = Record<string, unknown>;

/** A pod from raw JSON, through the same sanitizer the operator uses. */
export function pod(spec: Json, annotations: Record<string, string> = {}): PodView {
  const p = sanitizePod({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations },
    spec,
  });
  if (!p) throw new Error('not a pod');
  return p.pod;
}

/** A container that passes every restricted check unless `sc` says otherwise. */
export function ctr(name: string, sc: Json = {}, extra: Json = {}): Json {
  return {
    name,
    image: 'registry.example.com/app:1',
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, ...sc },
    ...extra,
  };
}

/** A restricted-clean pod spec with one container, overridable at the top level. */
export function spec(over: Json = {}, containers: Json[] = [ctr('app')]): Json {
  return {
    containers,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    ...over,
  };
}

export function run(
  p: PodView,
  level: PssLevel = 'restricted',
  version = 'latest',
  exemptChecks: string[] = [],
) {
  return checkPodSecurity(p, { level, version, exemptChecks });
}

export function rules(findings: Finding[]): string[] {
  return [...new Set(findings.map((f) => f.rule))].sort();
}
