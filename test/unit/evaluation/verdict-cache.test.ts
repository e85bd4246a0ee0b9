import { expect } from 'chai';
import type { CompiledPolicy } from '../../../src/engine/compiled-policy.ts';
import type { EvaluationContext } from '../../../src/engine/evaluate.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import { inlineEvaluator, type PodEvaluator } from '../../../src/evaluation/evaluator.ts';
import { VerdictCache } from '../../../src/evaluation/verdict-cache.ts';
import { compiled, podJson, view } from '../builders.ts';

/** The real engine inline, counting how often it was asked. */
function counting(): PodEvaluator & { calls: number; failNext: boolean } {
  const e = {
    calls: 0,
    failNext: false,
    evaluate(pod: PodView, policies: readonly CompiledPolicy[], ctx: EvaluationContext) {
      e.calls++;
      if (e.failNext) {
        e.failNext = false;
        return Promise.reject(new Error('worker replaced'));
      }
      return inlineEvaluator.evaluate(pod, policies, ctx);
    },
    close: async () => undefined,
  };
  return e;
}

const meta = { uid: 'u1', creationTimestamp: '2026-12-01T10:00:00Z', resourceVersion: '1' };
const privileged = (extra: Record<string, unknown> = {}) =>
  view(
    podJson(
      { containers: [{ name: 'c', image: 'i', securityContext: { privileged: true } }] },
      { ...meta, ...extra },
    ),
  );
const ctx: EvaluationContext = {
  namespaceLabels: {},
  now: new Date('2026-12-03T10:00:00Z'),
  trustCreationTimestamp: true,
};

describe('evaluation: VerdictCache', () => {
  const policies = [compiled({ rules: { podSecurity: { level: 'baseline' } } }, 'b')];

  it('judges a pod once per version of what the engine sees, whatever the watch says', async () => {
    const inner = counting();
    const cache = new VerdictCache(inner);
    const first = await cache.evaluate(privileged(), policies, ctx);
    // Another resourceVersion (the kubelet's status report), another clock reading: the same.
    const again = await cache.evaluate(privileged({ resourceVersion: '2' }), policies, {
      ...ctx,
      now: new Date('2026-12-03T11:00:00Z'),
    });
    expect(again).to.deep.equal(first);
    expect(inner.calls).to.equal(1);
    expect(first.violations.map((v) => v.rule)).to.include('pss.privileged');
  });

  it('judges again when the pod, the policies, the namespace labels or the cuts change', async () => {
    const inner = counting();
    const cache = new VerdictCache(inner);
    await cache.evaluate(privileged(), policies, ctx);
    await cache.evaluate(privileged({ labels: { app: 'x' } }), policies, ctx);
    const other = [...policies];
    await cache.evaluate(privileged({ labels: { app: 'x' } }), other, ctx);
    await cache.evaluate(privileged({ labels: { app: 'x' } }), other, {
      ...ctx,
      namespaceLabels: { team: 'a' },
    });
    await cache.evaluate(privileged({ labels: { app: 'x' } }), other, {
      ...ctx,
      namespaceLabels: { team: 'a' },
      truncated: ['metadata.labels'],
    });
    expect(inner.calls).to.equal(5);
  });

  it('never caches what depends on the clock, nor a failed evaluation', async () => {
    const inner = counting();
    const cache = new VerdictCache(inner);
    const untrusted = { ...ctx, trustCreationTimestamp: false };
    await cache.evaluate(privileged(), policies, untrusted);
    await cache.evaluate(privileged(), policies, untrusted);
    await cache.evaluate(privileged({ creationTimestamp: undefined }), policies, ctx);
    await cache.evaluate(privileged({ creationTimestamp: undefined }), policies, ctx);
    expect(inner.calls).to.equal(4);
    inner.failNext = true;
    const failed = await cache
      .evaluate(privileged({ uid: 'u2' }), policies, ctx)
      .catch(() => 'failed');
    expect(failed).to.equal('failed');
    await cache.evaluate(privileged({ uid: 'u2' }), policies, ctx);
    expect(inner.calls).to.equal(6);
  });

  it('keeps a bounded number of pods', async () => {
    const inner = counting();
    const cache = new VerdictCache(inner, 2);
    for (const uid of ['a', 'b', 'c', 'a'])
      await cache.evaluate(privileged({ uid }), policies, ctx);
    expect(inner.calls).to.equal(4); // 'a' was forgotten to make room for 'c'
  });

  it('forgets a pod that is gone, and keeps a bounded number of findings', async () => {
    const inner = counting();
    const cache = new VerdictCache(inner, 100, 2); // a privileged pod here has 1 finding
    await cache.evaluate(privileged({ uid: 'a' }), policies, ctx);
    cache.forget('a');
    await cache.evaluate(privileged({ uid: 'a' }), policies, ctx);
    expect(inner.calls).to.equal(2);
    for (const uid of ['b', 'c']) await cache.evaluate(privileged({ uid }), policies, ctx);
    await Promise.resolve();
    // a, b, c hold 3 findings against a budget of 2: a, the oldest, was let go.
    await cache.evaluate(privileged({ uid: 'c' }), policies, ctx);
    await cache.evaluate(privileged({ uid: 'a' }), policies, ctx);
    expect(inner.calls).to.equal(5);
  });
});
