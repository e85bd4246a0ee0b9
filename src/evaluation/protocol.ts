// The messages between the operator and its evaluation workers. Everything crossing is plain data
// (structured clone): pod views, parsed policies, violations. Messages to one worker arrive in the
// order they were posted, so a policy update always precedes the evaluations posted after it.
import type { Policy } from '../api/policy.ts';
import type { EvaluationContext } from '../engine/evaluate.ts';
import type { PodView } from '../engine/pod.ts';
import type { Evaluation } from '../engine/violation.ts';

/** The policies in effect, in the order evaluate() takes them. */
export interface PoliciesMessage {
  type: 'policies';
  policies: Policy[];
}

export interface EvaluateMessage {
  type: 'evaluate';
  id: number;
  pod: PodView;
  ctx: EvaluationContext;
}

export type ToWorker = PoliciesMessage | EvaluateMessage;

export type FromWorker =
  | { type: 'result'; id: number; evaluation: Evaluation }
  | { type: 'failed'; id: number; message: string };
