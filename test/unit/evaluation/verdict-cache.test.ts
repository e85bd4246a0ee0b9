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
    // A label counts once a pod selector names it.
    const selecting = [
      compiled(
        {
          match: { podSelector: { matchLabels: { app: 'x' } } },
          rules: { podSecurity: { level: 'baseline' } },
        },
        's',
      ),
    ];
    await cache.evaluate(privileged(), selecting, ctx);
    await cache.evaluate(privileged({ labels: { app: 'x' } }), selecting, ctx);
    const other = [...selecting];
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
    // The spec, and a nodeName the creator wrote (the scheduling rule reads it).
    const p = privileged({ labels: { app: 'x' } });
    const pinned = { ...p, spec: { ...p.spec, nodeName: 'worker-1', nodeNameFromBinding: false } };
    await cache.evaluate(pinned, other, {
      ...ctx,
      namespaceLabels: { team: 'a' },
      truncated: ['metadata.labels'],
    });
    expect(inner.calls).to.equal(6);
  });

  it("judges once through the events no rule reads: the operator's own record, unselected labels, the scheduler's binding", async () => {
    const inner = counting();
    const cache = new VerdictCache(inner);
    const first = await cache.evaluate(privileged(), policies, ctx);
    const recorded = privileged({
      resourceVersion: '3',
      labels: { 'deployguard.dev/violating': 'true', team: 'payments' },
      annotations: {
        'deployguard.dev/violations':
          '[{"policy":"b","rule":"pss.privileged","severity":"critical"}]',
        'deployguard.dev/detected-at': '2026-12-01T10:00:01Z',
        'deployguard.dev/recorded-uid': 'u1',
      },
    });
    const bound = {
      ...recorded,
      spec: { ...recorded.spec, nodeName: 'worker-2', nodeNameFromBinding: true },
    };
    expect(await cache.evaluate(recorded, policies, ctx)).to.deep.equal(first);
    expect(await cache.evaluate(bound, policies, ctx)).to.deep.equal(first);
    expect(inner.calls).to.equal(1);
    // What it leaves out changes no verdict: the engine itself, asked afresh, agrees.
    expect(await inlineEvaluator.evaluate(bound, policies, ctx)).to.deep.equal(first);
    // An annotation a rule reads is not left out.
    await cache.evaluate(
      privileged({ annotations: { 'seccomp.security.alpha.kubernetes.io/pod': 'unconfined' } }),
      policies,
      ctx,
    );
    expect(inner.calls).to.equal(2);
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
