// A pod judged once per version of what the engine sees, not once per watch event. Most events of
// a pod change nothing the rules read (the kubelet's status reports, a label of ours, a resync),
// and re-judging a pod with a megabyte of text against hundreds of policies on each of them is
// what let one tenant keep the evaluation workers busy. The engine is pure, so the same view, the
// same policies and the same context give the same verdict; the one input that moves by itself,
// the clock, matters only to schedule windows, and only when the creationTimestamp is not trusted.
import { createHash } from 'node:crypto';
import { BoundedMap } from '../base/bounded-map.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { EvaluationContext } from '../engine/evaluate.ts';
import type { PodView } from '../engine/pod.ts';
import type { Evaluation } from '../engine/violation.ts';
import type { PodEvaluator } from './evaluator.ts';

interface Entry {
  /** The policies list judged against, by identity (it changes whenever a policy does). */
  policies: readonly CompiledPolicy[];
  digest: string;
  verdict: Promise<Evaluation>;
}

/** Verdicts kept: one per pod UID, the oldest forgotten first. */
const MAX_PODS = 50_000;

export class VerdictCache implements PodEvaluator {
  readonly #inner: PodEvaluator;
  readonly #entries: BoundedMap<string, Entry>;

  constructor(inner: PodEvaluator, maxPods = MAX_PODS) {
    this.#inner = inner;
    this.#entries = new BoundedMap(maxPods);
  }

  evaluate(
    pod: PodView,
    policies: readonly CompiledPolicy[],
    ctx: EvaluationContext,
  ): Promise<Evaluation> {
    const uid = pod.metadata.uid;
    if (!uid || !timeless(pod, ctx)) return this.#inner.evaluate(pod, policies, ctx);
    const digest = digestOf(pod, ctx);
    const known = this.#entries.get(uid);
    if (known && known.policies === policies && known.digest === digest) return known.verdict;
    const verdict = this.#inner.evaluate(pod, policies, ctx);
    const entry = { policies, digest, verdict };
    this.#entries.set(uid, entry);
    // A failed evaluation (a worker replaced) is never remembered: the retry judges again.
    verdict.catch(() => {
      if (this.#entries.get(uid) === entry) this.#entries.delete(uid);
    });
    return verdict;
  }

  close(): Promise<void> {
    this.#entries.clear();
    return this.#inner.close();
  }
}

/** Is the verdict independent of ctx.now? Only schedule windows read it, through this fallback. */
function timeless(pod: PodView, ctx: EvaluationContext): boolean {
  const stamp = pod.metadata.creationTimestamp;
  return ctx.trustCreationTimestamp === true && !!stamp && !Number.isNaN(Date.parse(stamp));
}

/** Everything the verdict depends on but the policies and the clock, as one digest. */
function digestOf(pod: PodView, ctx: EvaluationContext): string {
  // resourceVersion changes with every write and no rule reads it.
  const view = { ...pod, metadata: { ...pod.metadata, resourceVersion: undefined } };
  return createHash('sha256')
    .update(JSON.stringify([view, ctx.namespaceLabels, ctx.truncated ?? []]))
    .digest('base64');
}
