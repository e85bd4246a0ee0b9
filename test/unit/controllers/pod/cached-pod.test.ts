import { expect } from 'chai';
import {
  ANNOTATION_DETECTED_AT,
  ANNOTATION_RECORDED_UID,
  ANNOTATION_VIOLATIONS,
} from '../../../../src/api/constants.ts';
import {
  MAX_RULE_ANNOTATIONS,
  MAX_RULE_ANNOTATION_LENGTH,
  cachedPod,
} from '../../../../src/controllers/pod/cached-pod.ts';
import { podJson } from '../../builders.ts';

const SECCOMP = 'container.seccomp.security.alpha.kubernetes.io/app';
const APPARMOR = 'container.apparmor.security.beta.kubernetes.io/app';

describe('cached pod: what the pod cache keeps', () => {
  it('drops annotations no rule reads, however large, and keeps the rule-read ones and the record', () => {
    const record = '[{"policy":"p","rule":"r","severity":"high"}]';
    const c = cachedPod(
      podJson(
        {},
        {
          uid: 'u1',
          annotations: {
            padding: 'x'.repeat(250 * 1024),
            'kubectl.kubernetes.io/last-applied-configuration': '{}',
            [SECCOMP]: 'unconfined',
            [APPARMOR]: 'unconfined',
            [ANNOTATION_VIOLATIONS]: record,
            [ANNOTATION_DETECTED_AT]: '2026-12-01T00:00:00Z',
            [ANNOTATION_RECORDED_UID]: 'u1',
          },
        },
      ),
    );
    expect(c?.view.metadata.annotations).to.deep.equal({
      [SECCOMP]: 'unconfined',
      [APPARMOR]: 'unconfined',
      [ANNOTATION_VIOLATIONS]: record,
      [ANNOTATION_DETECTED_AT]: '2026-12-01T00:00:00Z',
      [ANNOTATION_RECORDED_UID]: 'u1',
    });
    // The padding was never a finding: nothing read it.
    expect(c?.truncated).to.deep.equal([]);
    const kept = JSON.stringify(c?.view).length;
    expect(kept).to.be.below(2048);
  });

  it('reads an own value longer than the operator writes as forged (empty), so it gets rewritten', () => {
    const c = cachedPod(
      podJson(
        {},
        {
          annotations: {
            [ANNOTATION_VIOLATIONS]: '['.padEnd(200 * 1024, ' ') + ']',
            [ANNOTATION_DETECTED_AT]: '2'.repeat(65),
            [ANNOTATION_RECORDED_UID]: 'u'.repeat(65),
          },
        },
      ),
    );
    expect(c?.view.metadata.annotations).to.deep.equal({
      [ANNOTATION_VIOLATIONS]: '',
      [ANNOTATION_DETECTED_AT]: '',
      [ANNOTATION_RECORDED_UID]: '',
    });
  });

  it('reports the pod oversized when rule-read annotations pass their bounds, never passing it', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i <= MAX_RULE_ANNOTATIONS; i++)
      many[`container.seccomp.security.alpha.kubernetes.io/c${i}`] = 'runtime/default';
    const c = cachedPod(podJson({}, { annotations: many }));
    expect(c?.truncated).to.deep.equal(['metadata.annotations']);
    expect(Object.keys(c?.view.metadata.annotations ?? {})).to.have.length(MAX_RULE_ANNOTATIONS);

    const long = cachedPod(
      podJson({}, { annotations: { [SECCOMP]: 'l'.repeat(MAX_RULE_ANNOTATION_LENGTH + 1) } }),
    );
    expect(long?.truncated).to.deep.equal([`metadata.annotations[${SECCOMP}]`]);
    expect(long?.view.metadata.annotations[SECCOMP]).to.have.length(MAX_RULE_ANNOTATION_LENGTH);
  });
});
