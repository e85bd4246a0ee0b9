// A watched NetworkPolicy -> what the Isolate action checks: its spec (who wrote it is not to be
// trusted; isolate.ts judges the spec) and the pod it is about, so a change requeues that pod.
import { GROUP } from '../../api/constants.ts';
import { asObject, stringMap } from '../../base/json.ts';
import type { IsolationPolicy } from '../../remediation/action.ts';

export interface CachedNetworkPolicy extends IsolationPolicy {
  namespace: string;
  /** The pod it isolates, from our annotation: only used to requeue that pod. */
  pod?: string;
}

export function cachedNetworkPolicy(raw: unknown): CachedNetworkPolicy | undefined {
  const o = asObject(raw);
  const meta = asObject(o?.metadata);
  if (!o || !meta || typeof meta.namespace !== 'string') return undefined;
  const spec = asObject(o.spec) ?? {};
  return {
    namespace: meta.namespace,
    pod: stringMap(meta.annotations)[`${GROUP}/pod`],
    spec: {
      podSelector: spec.podSelector,
      policyTypes: spec.policyTypes,
      ingress: spec.ingress,
      egress: spec.egress,
    },
  };
}
