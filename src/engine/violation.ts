import type { Severity } from '../api/constants.ts';

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
