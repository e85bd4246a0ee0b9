// The messages between the operator and its evaluation workers. Everything crossing is plain data
// (structured clone): pod views, parsed policies, violations. Messages to one worker arrive in the
// order they were posted, so a policy update always precedes the evaluations posted after it.
import type { Policy } from '../api/policy.ts';
import type { EvaluationContext } from '../engine/evaluate.ts';
import type { PodView } from '../engine/pod.ts';
import type { Evaluation } from '../engine/violation.ts';

/**
 * A list of policies, in the order evaluate() takes them, under a number the evaluations name. A
 * worker holds a few lists at once (the operator's and admission's), so callers that judge against
 * different lists never make it recompile one on every switch.
 */
export interface PoliciesMessage {
  type: 'policies';
  list: number;
  policies: Policy[];
}

/** The list is no longer used: the worker may drop it. */
export interface ForgetMessage {
  type: 'forget';
  list: number;
}

export interface EvaluateMessage {
  type: 'evaluate';
  id: number;
  list: number;
  pod: PodView;
  ctx: EvaluationContext;
}

export type ToWorker = PoliciesMessage | ForgetMessage | EvaluateMessage;

export type FromWorker =
  | { type: 'result'; id: number; evaluation: Evaluation }
  | { type: 'failed'; id: number; message: string };
