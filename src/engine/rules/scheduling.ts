import type { SchedulingRule } from '../../api/policy.ts';
import type { RuleFamily } from './rule-family.ts';
import { clip } from '../image-ref.ts';
import type { NodeSelectorTerm, PodView } from '../pod.ts';
import type { Finding } from '../violation.ts';

const HOSTNAME_LABEL = 'kubernetes.io/hostname';
const CONTROL_PLANE_TAINTS = new Set([
  'node-role.kubernetes.io/control-plane',
  'node-role.kubernetes.io/master',
]);

function controllerKind(pod: PodView): string | undefined {
  return pod.metadata.ownerReferences.find((r) => r.controller)?.kind;
}

/** scheduling.nodeName, scheduling.hostnameSelector, scheduling.controlPlaneToleration. */
function checkScheduling(pod: PodView, rule: SchedulingRule): Finding[] {
  const out: Finding[] = [];
  const { spec } = pod;
  // The scheduler writes nodeName too (through the binding subresource); only a creator's counts.
  if (rule.denyNodeName && spec.nodeName && !spec.nodeNameFromBinding) {
    out.push({
      rule: 'scheduling.nodeName',
      path: 'spec.nodeName',
      message: `pod is pinned to node ${clip(spec.nodeName)} by spec.nodeName, bypassing the scheduler`,
    });
  }
  if (rule.denyHostnameSelector) {
    if (Object.hasOwn(spec.nodeSelector, HOSTNAME_LABEL)) {
      out.push({
        rule: 'scheduling.hostnameSelector',
        path: `spec.nodeSelector[${HOSTNAME_LABEL}]`,
        message: `nodeSelector pins the pod to host ${clip(spec.nodeSelector[HOSTNAME_LABEL] ?? '')}`,
      });
    }
    // The DaemonSet controller pins each of its pods with a metadata.name field selector: not a creator's pin.
    const daemon = controllerKind(pod) === 'DaemonSet';
    spec.nodeAffinity?.required.forEach((term, i) => {
      const why = pin(term, daemon);
      if (why) {
        out.push({
          rule: 'scheduling.hostnameSelector',
          path: `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[${i}]`,
          message: `required node affinity pins the pod by ${why}`,
        });
      }
    });
  }
  if (rule.denyControlPlaneTolerations) {
    spec.tolerations.forEach((t, i) => {
      const everything = !t.key && t.operator === 'Exists';
      if (everything || (t.key !== undefined && CONTROL_PLANE_TAINTS.has(t.key))) {
        out.push({
          rule: 'scheduling.controlPlaneToleration',
          path: `spec.tolerations[${i}]`,
          message: everything
            ? 'toleration with operator Exists and no key tolerates every taint, control-plane taints included'
            : `tolerates the control-plane taint ${t.key}`,
        });
      }
    });
  }
  return out;
}

/**
 * Why the pod's creator, not the scheduler, chose its node, or undefined: spec.nodeName set by the
 * creator, a nodeSelector on the hostname, or a required node affinity pinned to named nodes (not
 * the one the DaemonSet controller sets on each of its pods). Such a node is no evidence against
 * the node: pinning a violating pod must not be a way to have the operator cordon a node.
 */
export function creatorChoseNode(pod: PodView): string | undefined {
  const { spec } = pod;
  if (spec.nodeName && !spec.nodeNameFromBinding) return 'spec.nodeName';
  if (Object.hasOwn(spec.nodeSelector, HOSTNAME_LABEL))
    return `spec.nodeSelector[${HOSTNAME_LABEL}]`;
  const daemon = controllerKind(pod) === 'DaemonSet';
  if (spec.nodeAffinity?.required.some((term) => pin(term, daemon) !== undefined))
    return 'spec.affinity.nodeAffinity';
  return undefined;
}

function pin(term: NodeSelectorTerm, daemon: boolean): string | undefined {
  for (const e of term.matchExpressions) {
    if (e.key === HOSTNAME_LABEL && e.operator === 'In')
      return `${HOSTNAME_LABEL} In [${clip(e.values.join(', '))}]`;
  }
  if (!daemon) {
    for (const f of term.matchFields) {
      if (f.key === 'metadata.name' && f.operator === 'In')
        return `node name In [${clip(f.values.join(', '))}]`;
    }
  }
  return undefined;
}

/** spec.rules.scheduling: scheduling.nodeName, hostnameSelector, controlPlaneToleration. */
export const schedulingRules: RuleFamily<SchedulingRule> = {
  block: 'scheduling',
  compile: (spec) => spec.rules.scheduling,
  judge: (pod, rule, _ctx, out) => {
    for (const f of checkScheduling(pod, rule)) out.push(f);
  },
};
