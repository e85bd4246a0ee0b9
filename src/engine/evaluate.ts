// The engine's entry point: pod + policies + namespace labels + time -> violations. Pure: the same
// inputs always give the same output, so the CLI, the operator and admission can never disagree.
import { SEVERITY_RANK } from '../api/constants.ts';
import { ruleInfo } from './catalog.ts';
import type { CompiledPolicy } from './compiled-policy.ts';
import { policyApplies } from './match.ts';
import type { PodView } from './pod.ts';
import { checkCommands } from './rules/commands.ts';
import { checkHostPaths } from './rules/host-paths.ts';
import { checkImages } from './rules/images.ts';
import { checkIndicators } from './rules/indicators.ts';
import { checkOwnership } from './rules/ownership.ts';
import { checkPodSecurity } from './rules/pod-security/index.ts';
import { checkScheduleWindow } from './rules/schedule-window.ts';
import { checkScheduling } from './rules/scheduling.ts';
import type { Evaluation, Finding, RuleError, Violation } from './violation.ts';

export interface EvaluationContext {
  namespaceLabels: Readonly<Record<string, string>>;
  now: Date;
  /** Fields the sanitizer cut to its bounds: reported as rule errors so nobody mistakes a partial look for a full one. */
  truncated?: readonly string[];
}

function findings(c: CompiledPolicy, pod: PodView, now: Date): Finding[] {
  const r = c.policy.spec.rules;
  const out: Finding[] = [];
  if (r.podSecurity) out.push(...checkPodSecurity(pod, r.podSecurity));
  if (c.images) out.push(...checkImages(pod, c.images));
  if (r.hostPaths) out.push(...checkHostPaths(pod, r.hostPaths));
  if (r.indicators?.enabled) out.push(...checkIndicators(pod));
  if (c.patterns.length > 0) out.push(...checkCommands(pod, c.patterns));
  if (r.scheduling) out.push(...checkScheduling(pod, r.scheduling));
  if (r.ownership) out.push(...checkOwnership(pod, r.ownership));
  if (c.windows.length > 0) out.push(...checkScheduleWindow(pod, c.windows, now));
  return out;
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
  for (const c of policies) {
    if (!policyApplies(c, pod, ctx.namespaceLabels)) continue;
    const name = c.policy.name;
    for (const t of ctx.truncated ?? []) {
      errors.push({
        policy: name,
        rule: 'input',
        message: `${sourcePath(pod, t)} exceeds the engine's size bound; only its first part was judged`,
      });
    }
    let found: Finding[];
    try {
      found = findings(c, pod, ctx.now);
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
