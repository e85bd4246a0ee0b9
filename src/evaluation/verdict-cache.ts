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
  /** Violations and errors the verdict holds, once known: what keeping it costs. */
  size: number;
}

/** Verdicts kept: one per pod UID, the oldest forgotten first. */
const MAX_PODS = 50_000;
/**
 * Findings kept over all verdicts (about 400 bytes each): a pod judged by hundreds of policies
 * holds hundreds, so the number of pods alone would not bound the memory.
 */
const MAX_FINDINGS = 100_000;

export class VerdictCache implements PodEvaluator {
  readonly #inner: PodEvaluator;
  readonly #entries: BoundedMap<string, Entry>;
  readonly #maxFindings: number;
  #findings = 0;

  constructor(inner: PodEvaluator, maxPods = MAX_PODS, maxFindings = MAX_FINDINGS) {
    this.#inner = inner;
    this.#entries = new BoundedMap(maxPods);
    this.#maxFindings = maxFindings;
  }

  /** The pod is gone: its verdict is of no more use. */
  forget(uid: string | undefined): void {
    if (uid) this.#drop(uid);
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
    const entry: Entry = { policies, digest, verdict, size: 0 };
    this.#drop(uid);
    if (this.#entries.size >= this.#entries.max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#drop(oldest.value);
    }
    this.#entries.set(uid, entry);
    verdict.then(
      (e) => {
        if (this.#entries.get(uid) !== entry) return;
        entry.size = e.violations.length + e.errors.length;
        this.#findings += entry.size;
        // Over budget: the oldest verdicts go first (they are judged again if asked).
        for (const old of this.#entries.keys()) {
          if (this.#findings <= this.#maxFindings) break;
          this.#drop(old);
        }
      },
      // A failed evaluation (a worker replaced) is never remembered: the retry judges again.
      () => {
        if (this.#entries.get(uid) === entry) this.#drop(uid);
      },
    );
    return verdict;
  }

  #drop(uid: string): void {
    const e = this.#entries.get(uid);
    if (!e) return;
    this.#findings -= e.size;
    this.#entries.delete(uid);
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
