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
  /**
   * Findings already made for this pod in this evaluation, by family and shared key: a pod is
   * judged once per policy, and what doesn't depend on the policy is worked out once.
   */
  memo?: Map<string, readonly Finding[]>;
}

export interface RuleFamily<C> {
  /** The spec.rules block the family reads, for messages and tests. */
  readonly block: string;
  /** The compiled settings, or undefined when the policy asks nothing of this family. */
  compile(spec: PolicySpec, problems: PolicyProblem[]): C | undefined;
  judge(pod: PodView, compiled: C, ctx: JudgeContext, out: Finding[]): void;
  /**
   * For families whose findings for a pod depend only on part of their settings: a key equal for
   * settings that find the same (indicators: always; deniedPatterns: the same patterns). Policies
   * sharing it are judged once per pod.
   */
  sharedKey?(compiled: C): string;
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
  const key = family.sharedKey ? `${family.block}\u0000${family.sharedKey(compiled)}` : undefined;
  return {
    block: family.block,
    judge: (pod, ctx, out) => {
      if (key === undefined || !ctx.memo) return family.judge(pod, compiled, ctx, out);
      let found = ctx.memo.get(key);
      if (!found) {
        const fresh: Finding[] = [];
        family.judge(pod, compiled, ctx, fresh);
        ctx.memo.set(key, (found = fresh));
      }
      for (const f of found) out.push(f);
    },
  };
}
