// Watch objects -> what the caches keep. Trimming happens before caching: a pod is kept as the
// engine's sanitized view (no managedFields, no status beyond the phase), a node as the few fields
// the cordon guards read, a namespace as its labels. At 50k pods this is the difference between
// megabytes and a gigabyte.
import { sanitizePod } from '../engine/sanitize.ts';
import { asObject } from '../base/json.ts';
import type { PodView } from '../engine/pod.ts';
import type { NodeInfo } from '../remediation/action.ts';

export interface CachedPod {
  view: PodView;
  /** Fields the sanitizer cut (input.oversized). */
  truncated: string[];
  phase?: string;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/** A policy as watched: the raw object (for the parser) without managedFields. */
export interface PolicyObject {
  name: string;
  uid: string;
  generation: number;
  raw: Record<string, unknown>;
  status: Record<string, unknown>;
}

export function cachedPod(raw: unknown): CachedPod | undefined {
  const o = asObject(raw);
  if (!o) return undefined;
  // Items of a LIST carry no kind; the sanitizer needs it to know this is a Pod.
  const s = sanitizePod({ ...o, kind: 'Pod', apiVersion: 'v1' });
  if (!s || !s.pod.metadata.name) return undefined;
  const phase = asObject(o.status)?.phase;
  return {
    view: s.pod,
    truncated: s.truncated,
    phase: typeof phase === 'string' ? phase : undefined,
  };
}

const CONTROL_PLANE_LABELS = [
  'node-role.kubernetes.io/control-plane',
  'node-role.kubernetes.io/master',
];

export function nodeInfo(raw: unknown): NodeInfo | undefined {
  const o = asObject(raw);
  const meta = asObject(o?.metadata);
  if (!o || !meta || typeof meta.name !== 'string') return undefined;
  const labels = stringMap(meta.labels);
  const spec = asObject(o.spec);
  const taints = Array.isArray(spec?.taints) ? spec.taints : [];
  return {
    name: meta.name,
    uid: typeof meta.uid === 'string' ? meta.uid : '',
    unschedulable: spec?.unschedulable === true,
    controlPlane:
      CONTROL_PLANE_LABELS.some((l) => l in labels) ||
      taints.some((t) => CONTROL_PLANE_LABELS.includes(String(asObject(t)?.key))),
    labels,
  };
}

export function namespaceInfo(raw: unknown): NamespaceInfo | undefined {
  const meta = asObject(asObject(raw)?.metadata);
  if (!meta || typeof meta.name !== 'string') return undefined;
  return { name: meta.name, labels: stringMap(meta.labels) };
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

function stringMap(v: unknown): Record<string, string> {
  const o = asObject(v);
  const out: Record<string, string> = {};
  if (!o) return out;
  for (const [k, val] of Object.entries(o)) if (typeof val === 'string') out[k] = val;
  return out;
}
