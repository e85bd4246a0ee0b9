// A watched node -> the few fields the cordon guards and CordonNode read.
import { asObject, stringMap } from '../../base/json.ts';
import type { NodeInfo } from '../../remediation/action.ts';

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
