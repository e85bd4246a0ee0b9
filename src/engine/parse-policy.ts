// Unknown JSON (a watched object, a YAML document) -> a typed, defaulted, compiled policy, or the list
// of every problem with its field path. This is what marks a policy Ready=False in the cluster and
// what makes `deployguard evaluate` exit 2.
import { compilePolicy, type CompiledPolicy } from './compiled-policy.ts';
import { API_VERSION, KIND } from '../api/constants.ts';
import type { Policy, PolicyProblem, PolicySpec } from '../api/policy.ts';
import { crossFieldProblems, withActionDefaults } from '../api/policy-rules.ts';
import { policySchema } from '../api/schema.ts';
import { walkSchema, type SchemaNode, type SchemaProblem } from '../api/schema-walk.ts';
import { asObject as obj } from '../base/json.ts';

export type PolicyResult =
  | { ok: true; policy: Policy; compiled: CompiledPolicy }
  | { ok: false; name?: string; problems: PolicyProblem[] };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** True for documents that claim to be a ContainerDeploymentPolicy, valid or not. */
export function isPolicyDocument(raw: unknown): boolean {
  const o = obj(raw);
  return (
    o?.kind === KIND &&
    typeof o.apiVersion === 'string' &&
    o.apiVersion.startsWith('deployguard.dev/')
  );
}

export function parsePolicy(raw: unknown): PolicyResult {
  const o = obj(raw);
  if (!o) return { ok: false, problems: [{ path: '', message: 'a policy must be an object' }] };
  const problems: SchemaProblem[] = [];
  if (o.apiVersion !== API_VERSION) {
    problems.push({
      path: 'apiVersion',
      message: `must be ${API_VERSION}, got ${JSON.stringify(o.apiVersion)}`,
    });
  }
  if (o.kind !== KIND) problems.push({ path: 'kind', message: `must be ${KIND}` });
  const meta = obj(o.metadata);
  const name = typeof meta?.name === 'string' ? meta.name : undefined;
  if (name === undefined || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    problems.push({
      path: 'metadata.name',
      message: 'must be a lowercase DNS subdomain (RFC 1123)',
    });
  }
  const specSchema = (policySchema as SchemaNode).properties?.spec;
  if (!specSchema) throw new Error('policy schema has no spec');
  if (o.spec === undefined || o.spec === null) {
    problems.push({ path: 'spec', message: 'Required value' });
    return { ok: false, name, problems };
  }
  const walked = walkSchema(specSchema, o.spec, 'spec', problems) as PolicySpec;
  if (problems.length === 0) problems.push(...crossFieldProblems(walked));
  if (problems.length > 0) return { ok: false, name, problems };

  const policy: Policy = {
    name: name as string,
    generation: typeof meta?.generation === 'number' ? meta.generation : undefined,
    uid: typeof meta?.uid === 'string' ? meta.uid : undefined,
    spec: withActionDefaults(walked),
  };
  const compiled = compilePolicy(policy);
  if (!compiled.ok) return { ok: false, name, problems: compiled.problems };
  return { ok: true, policy, compiled: compiled.compiled };
}

/** "spec.mode: Unsupported value…; spec.rules: …" — one line for a condition message or an Event. */
export function describeProblems(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
}
