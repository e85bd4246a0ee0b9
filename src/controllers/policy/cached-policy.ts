// A watched ContainerDeploymentPolicy -> what the policy cache keeps: the raw object for the
// parser, without managedFields, and its status (the counters survive restarts through it).
import { asObject } from '../../base/json.ts';

export interface PolicyObject {
  name: string;
  uid: string;
  generation: number;
  raw: Record<string, unknown>;
  status: Record<string, unknown>;
}

export function policyObject(raw: unknown): PolicyObject | undefined {
  const o = asObject(raw);
  const meta = asObject(o?.metadata);
  if (!o || !meta || typeof meta.name !== 'string') return undefined;
  const { managedFields: _dropped, ...metadata } = meta;
  return {
    name: meta.name,
    uid: typeof meta.uid === 'string' ? meta.uid : '',
    generation: typeof meta.generation === 'number' ? meta.generation : 0,
    raw: {
      apiVersion: o.apiVersion ?? 'deployguard.dev/v1alpha1',
      kind: o.kind ?? 'ContainerDeploymentPolicy',
      metadata,
      spec: o.spec,
    },
    status: asObject(o.status) ?? {},
  };
}
