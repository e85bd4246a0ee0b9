// A pod judged once per version of what the engine sees, not once per watch event. Most events of
// a pod change nothing the rules read (the kubelet's status reports, a label of ours, a resync),
// and re-judging a pod with a megabyte of text against hundreds of policies on each of them is
// what let one tenant keep the evaluation workers busy. The engine is pure, so the same view, the
// same policies and the same context give the same verdict; the one input that moves by itself,
// the clock, matters only to schedule windows, and only when the creationTimestamp is not trusted.
import { createHash } from 'node:crypto';
import { BoundedMap } from '../base/bounded-map.ts';
import type { LabelSelector } from '../api/policy.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { EvaluationContext } from '../engine/evaluate.ts';
import type { PodView } from '../engine/pod.ts';
import { readByRules } from '../engine/rules/pod-security/annotation-keys.ts';
import type { Evaluation } from '../engine/violation.ts';
import type { PodEvaluator } from './evaluator.ts';

interface Entry {
  /** The policies list judged against, by identity (it changes whenever a policy does). */
  policies: readonly CompiledPolicy[];
  digest: string;
  /**
   * The evaluation in flight, then what it found: one settled value per pod instead of a promise
   * and its arrays, and one shared empty verdict for every clean pod.
   */
  verdict: Promise<Evaluation> | Evaluation;
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
    const digest = digestOf(pod, ctx, labelKeysOf(policies));
    const known = this.#entries.get(uid);
    if (known && known.policies === policies && known.digest === digest)
      return known.verdict instanceof Promise ? known.verdict : Promise.resolve(known.verdict);
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
        entry.verdict = entry.size === 0 ? NO_FINDINGS : e;
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

const NO_FINDINGS: Evaluation = Object.freeze({
  violations: Object.freeze([]) as unknown as Evaluation['violations'],
  errors: Object.freeze([]) as unknown as Evaluation['errors'],
});

/** Is the verdict independent of ctx.now? Only schedule windows read it, through this fallback. */
function timeless(pod: PodView, ctx: EvaluationContext): boolean {
  const stamp = pod.metadata.creationTimestamp;
  return ctx.trustCreationTimestamp === true && !!stamp && !Number.isNaN(Date.parse(stamp));
}

/** The label keys any of the policies' pod selectors read, per policies list. */
const labelKeys = new WeakMap<readonly CompiledPolicy[], ReadonlySet<string>>();

function labelKeysOf(policies: readonly CompiledPolicy[]): ReadonlySet<string> {
  let keys = labelKeys.get(policies);
  if (keys) return keys;
  const found = new Set<string>();
  const add = (s: LabelSelector | undefined): void => {
    for (const k of Object.keys(s?.matchLabels ?? {})) found.add(k);
    for (const e of s?.matchExpressions ?? []) found.add(e.key);
  };
  for (const c of policies) {
    add(c.policy.spec.match.podSelector);
    add(c.policy.spec.exclude.podSelector);
  }
  labelKeys.set(policies, (keys = found));
  return keys;
}

/**
 * Everything the verdict depends on but the policies and the clock, as one digest: the view as
 * the rules read it. Left out is what changes on most events of a pod and no rule reads, so that
 * those events cost no evaluation: the resourceVersion; annotations no rule reads (the
 * operator's own record among them: writing it would otherwise have every violating pod judged
 * twice); labels no pod selector of these policies names (the operator's own label among them);
 * and a nodeName the scheduler bound (only a creator's nodeName is read, scheduling.ts).
 */
function digestOf(pod: PodView, ctx: EvaluationContext, keys: ReadonlySet<string>): string {
  const { resourceVersion: _rv, annotations, labels, ...metadata } = pod.metadata;
  const read = (m: Readonly<Record<string, string>>, keep: (k: string) => boolean) =>
    Object.keys(m)
      .filter(keep)
      .sort()
      .map((k) => [k, m[k]]);
  const spec = pod.spec.nodeNameFromBinding
    ? { ...pod.spec, nodeName: undefined, nodeNameFromBinding: false }
    : pod.spec;
  const view = {
    ...pod,
    spec,
    metadata: {
      ...metadata,
      annotations: read(annotations, readByRules),
      labels: read(labels, (k) => keys.has(k)),
    },
  };
  return createHash('sha256')
    .update(JSON.stringify([view, ctx.namespaceLabels, ctx.truncated ?? []]))
    .digest('base64');
}
