import type { OwnershipRule } from '../../api/policy.ts';
import type { RuleFamily } from './rule-family.ts';
import type { PodView } from '../pod.ts';
import type { Finding } from '../violation.ts';

/**
 * ownership.barePod: a Pod that no controller owns. Workload templates are never bare: the pods they
 * create are owned by them.
 */
function checkOwnership(pod: PodView, rule: OwnershipRule): Finding[] {
  if (!rule.denyBarePods || pod.source.kind !== 'Pod') return [];
  if (pod.metadata.ownerReferences.some((r) => r.controller)) return [];
  return [
    {
      rule: 'ownership.barePod',
      path: 'metadata.ownerReferences',
      message: 'pod has no controller ownerReference (created directly, not by a workload)',
    },
  ];
}

/** spec.rules.ownership: ownership.barePod. */
export const ownershipRules: RuleFamily<OwnershipRule> = {
  block: 'ownership',
  compile: (spec) => spec.rules.ownership,
  judge: (pod, rule, _ctx, out) => {
    for (const f of checkOwnership(pod, rule)) out.push(f);
  },
};
