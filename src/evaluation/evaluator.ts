// The seam between a reconcile and the engine: judge a pod against the policies in effect. The
// operator judges in a pool of worker threads (worker-pool.ts), so the event loop that serves
// watches, probes and writes never waits on one pod's text; tests and the CLI judge inline.
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import { evaluate, type EvaluationContext } from '../engine/evaluate.ts';
import type { PodView } from '../engine/pod.ts';
import type { Evaluation } from '../engine/violation.ts';

export interface PodEvaluator {
  /** The pod judged against `policies` (the same list object while the policies don't change). */
  evaluate(
    pod: PodView,
    policies: readonly CompiledPolicy[],
    ctx: EvaluationContext,
  ): Promise<Evaluation>;
  /** The pod is gone: anything kept for it may go (verdict-cache.ts). */
  forget?(uid: string | undefined): void;
  /** Stops any threads. */
  close(): Promise<void>;
}

/** Judges on the calling thread. */
export const inlineEvaluator: PodEvaluator = {
  evaluate: async (pod, policies, ctx) => evaluate(pod, policies, ctx),
  close: async () => undefined,
};
