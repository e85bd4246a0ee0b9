// Judges a pod with one rule family and its compiled settings, through the family interface
// evaluate() uses, for tests of a single family.
import type { PodView } from '../../../src/engine/pod.ts';
import type { JudgeContext, RuleFamily } from '../../../src/engine/rules/rule-family.ts';
import type { Finding } from '../../../src/engine/violation.ts';

export function judge<C>(
  family: RuleFamily<C>,
  pod: PodView,
  compiled: C,
  ctx: JudgeContext = { now: new Date(0), trustCreationTimestamp: false },
): Finding[] {
  const out: Finding[] = [];
  family.judge(pod, compiled, ctx, out);
  return out;
}
