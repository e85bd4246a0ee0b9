// The one shape every rule family has: compile the policy's settings for it once, when the policy
// is loaded (problems the schema can't see, such as a bad regex, are reported with their field
// path), then judge each pod against the compiled form, appending findings. evaluate() loops over
// the catalog of families (catalog.ts); adding a rule touches the schema, one rule file and the
// catalog, nothing else.
import type { PolicyProblem, PolicySpec } from '../../api/policy.ts';
import type { PodView } from '../pod.ts';
import type { Finding } from '../violation.ts';

export interface JudgeContext {
  now: Date;
  /** Judge by the object's creationTimestamp (the operator: the API server set it). */
  trustCreationTimestamp: boolean;
}

export interface RuleFamily<C> {
  /** The spec.rules block the family reads, for messages and tests. */
  readonly block: string;
  /** The compiled settings, or undefined when the policy asks nothing of this family. */
  compile(spec: PolicySpec, problems: PolicyProblem[]): C | undefined;
  judge(pod: PodView, compiled: C, ctx: JudgeContext, out: Finding[]): void;
}

/** A family with its compiled settings bound: what a compiled policy holds. */
export interface CompiledRule {
  readonly block: string;
  judge(pod: PodView, ctx: JudgeContext, out: Finding[]): void;
}

/** Compiles one family for a policy; undefined when the policy asks nothing of it. */
export function bindFamily<C>(
  family: RuleFamily<C>,
  spec: PolicySpec,
  problems: PolicyProblem[],
): CompiledRule | undefined {
  const compiled = family.compile(spec, problems);
  if (compiled === undefined) return undefined;
  return { block: family.block, judge: (pod, ctx, out) => family.judge(pod, compiled, ctx, out) };
}
