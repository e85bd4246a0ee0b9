import { SEVERITY_RANK, type Severity } from '../api/constants.ts';

/** What one rule found in one place of a pod: the raw material of a Violation, before policy overrides. */
export interface Finding {
  rule: string;
  /** The container at fault, when the finding is about one container. */
  container?: string;
  /** JSON path from the pod's root, e.g. `spec.containers[0].securityContext.privileged`. */
  path: string;
  message: string;
}

export interface Violation extends Finding {
  policy: string;
  severity: Severity;
  techniques: string[];
}

/**
 * A rule that could not be evaluated (an input beyond the engine's bounds, for example). It is data,
 * not an exception, so one odd pod never stops the evaluation of the rest.
 */
export interface RuleError {
  policy: string;
  rule: string;
  message: string;
}

export interface Evaluation {
  violations: Violation[];
  errors: RuleError[];
}

/**
 * Whether a violation is severe enough for a minSeverity (absent: every one is). A field cut to the
 * engine's bounds always is: what the padding hid may be of any severity, so a policy that acts
 * only on critical findings must not let a padded pod through unseen (fail closed).
 */
export function atLeast(v: Violation, minSeverity: Severity | undefined): boolean {
  if (!minSeverity || v.rule === 'input.oversized') return true;
  return SEVERITY_RANK[v.severity] >= SEVERITY_RANK[minSeverity];
}
