// Violations -> a remediation plan: the policy's actions, in the order written, each with the
// violations severe enough for its minSeverity. Audit plans nothing. Pure; the guards that decide
// whether a planned action may really run live with the executor, not here.
import type { PolicyAction } from '../api/policy.ts';
import type { CompiledPolicy } from './compiled-policy.ts';
import type { PodView } from './pod.ts';
import { atLeast, type Violation } from './violation.ts';

export interface PlannedAction {
  policy: string;
  action: PolicyAction;
  /** The violations that justify this action. */
  because: Violation[];
}

export interface RemediationPlan {
  actions: PlannedAction[];
}

export function planRemediation(
  c: CompiledPolicy,
  violations: readonly Violation[],
  pod: PodView,
): RemediationPlan {
  const { spec, name } = c.policy;
  if (spec.mode !== 'Enforce') return { actions: [] };
  const mine = violations.filter((v) => v.policy === name);
  if (mine.length === 0) return { actions: [] };
  const actions: PlannedAction[] = [];
  for (const action of spec.actions) {
    const because = mine.filter((v) => atLeast(v, action.minSeverity));
    if (because.length === 0) continue;
    // There is no node to cordon until the pod is bound to one.
    if (action.type === 'CordonNode' && !pod.spec.nodeName) continue;
    actions.push({ policy: name, action, because });
  }
  return { actions };
}
