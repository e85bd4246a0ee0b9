// The engine's entry point: pod + policies + namespace labels + time -> violations. Pure: the same
// inputs always give the same output, so the CLI, the operator and admission can never disagree.
import { SEVERITY_RANK } from '../api/constants.ts';
import { ruleInfo } from './catalog.ts';
import { MAX_LIST_ITEMS, MAX_POD_TEXT, MAX_STRING_LENGTH } from './sanitize.ts';
import type { CompiledPolicy } from './compiled-policy.ts';
import { policyApplies } from './match.ts';
import type { PodView } from './pod.ts';
import type { JudgeContext } from './rules/rule-family.ts';
import type { Evaluation, Finding, RuleError, Violation } from './violation.ts';

export interface EvaluationContext {
  namespaceLabels: Readonly<Record<string, string>>;
  now: Date;
  /**
   * Judge schedule windows by the object's creationTimestamp. Only the operator sets this: the API
   * server writes that field; in a manifest it is whatever its author typed.
   */
  trustCreationTimestamp?: boolean;
  /** Fields the sanitizer cut to its bounds: each is an input.oversized violation, so a partial look never passes a pod. */
  truncated?: readonly string[];
}

/** Appends the findings of one policy's rule families to `out`, in the catalog's order. */
function findings(c: CompiledPolicy, pod: PodView, judging: JudgeContext, out: Finding[]): void {
  for (const rule of c.rules) rule.judge(pod, judging, out);
}

/** Rewrites a pod-rooted path to where the field lives in the source (a Deployment's template, say). */
export function sourcePath(pod: PodView, path: string): string {
  if (path === 'spec' || path.startsWith('spec.')) return pod.specPath + path.slice(4);
  if (path.startsWith('metadata.labels') || path.startsWith('metadata.annotations')) {
    return pod.metadataPath + path.slice(8);
  }
  return path;
}

export function evaluate(
  pod: PodView,
  policies: readonly CompiledPolicy[],
  ctx: EvaluationContext,
): Evaluation {
  const violations: Violation[] = [];
  const errors: RuleError[] = [];
  // One scratch list for every policy's findings; a policy whose rules throw contributes none.
  const found: Finding[] = [];
  // What doesn't depend on the policy (the indicators, the same deniedPatterns) is judged once
  // per pod, however many policies ask for it.
  const judging: JudgeContext = {
    now: ctx.now,
    trustCreationTimestamp: ctx.trustCreationTimestamp ?? false,
    memo: policies.length > 1 ? new Map() : undefined,
  };
  for (const c of policies) {
    if (!policyApplies(c, pod, ctx.namespaceLabels)) continue;
    const name = c.policy.name;
    found.length = 0;
    // Fail closed: padding a field past the bounds must not hide what follows it.
    for (const t of ctx.truncated ?? []) {
      found.push({
        rule: 'input.oversized',
        path: t,
        message: `field is beyond the engine's bounds (${MAX_STRING_LENGTH / 1024} KiB per string, ${MAX_LIST_ITEMS} items per list, ${MAX_POD_TEXT / 1024} KiB of command text per pod); only its first part was judged`,
      });
    }
    try {
      findings(c, pod, judging, found);
    } catch (err) {
      // A bug in one rule must not hide the other policies' verdicts; it surfaces as data.
      errors.push({
        policy: name,
        rule: 'engine',
        message: `evaluation failed: ${(err as Error).message}`,
      });
      continue;
    }
    for (const f of found) {
      const info = ruleInfo(f.rule);
      violations.push({
        ...f,
        path: sourcePath(pod, f.path),
        policy: name,
        severity: c.policy.spec.severity[f.rule] ?? info?.severity ?? 'medium',
        techniques: [...(info?.techniques ?? ['T1610'])],
      });
    }
  }
  violations.sort(compareViolations);
  return { violations, errors };
}

/** Worst first, then by policy, rule, path: a stable order for annotations, reports and output. */
export function compareViolations(a: Violation, b: Violation): number {
  return (
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    cmp(a.policy, b.policy) ||
    cmp(a.rule, b.rule) ||
    cmp(a.path, b.path) ||
    cmp(a.container ?? '', b.container ?? '')
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
