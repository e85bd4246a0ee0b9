// Small builders for tests: a pod as JSON, and a policy taken through the real parser, so tests use
// exactly what the CLI and the operator would.
import { parsePolicy } from '../../src/engine/parse-policy.ts';
import type { CompiledPolicy } from '../../src/engine/compiled-policy.ts';
import { sanitizePod } from '../../src/engine/sanitize.ts';
import type { PodView } from '../../src/engine/pod.ts';

export type Json = Record<string, unknown>;

export function podJson(spec: Json = {}, metadata: Json = {}): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', ...metadata },
    spec: { containers: [{ name: 'app', image: 'registry.example.com/app:1.0' }], ...spec },
  };
}

export function view(raw: unknown): PodView {
  const s = sanitizePod(raw);
  if (!s) throw new Error('not a pod');
  return s.pod;
}

export function policyJson(spec: Json, name = 'p1'): Json {
  return {
    apiVersion: 'deployguard.dev/v1alpha1',
    kind: 'ContainerDeploymentPolicy',
    metadata: { name },
    spec,
  };
}

export function compiled(spec: Json, name = 'p1'): CompiledPolicy {
  const r = parsePolicy(policyJson(spec, name));
  if (!r.ok) throw new Error(`invalid test policy: ${JSON.stringify(r.problems)}`);
  return r.compiled;
}
