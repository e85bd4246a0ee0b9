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
  sameForReconcile,
} from '../../../../src/controllers/pod/cached-pod.ts';
import { SharedValues } from '../../../../src/controllers/pod/shared-values.ts';
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

  it('an update is worth a reconcile only if it changes what reconcile reads', () => {
    const shared = new SharedValues();
    const spec = {
      containers: [{ name: 'app', image: 'i', securityContext: { privileged: true } }],
    };
    const at = (meta: Record<string, unknown>, status: Record<string, unknown> = {}, s = spec) =>
      cachedPod({ ...podJson(s, { uid: 'u1', resourceVersion: '1', ...meta }), status }, shared)!;
    const before = at({}, { phase: 'Pending' });
    // The kubelet's report: new version, conditions and IPs, the same phase.
    const report = at(
      { resourceVersion: '2' },
      { phase: 'Pending', podIP: '10.0.0.9', conditions: [{ type: 'Ready' }] },
    );
    expect(sameForReconcile(before, report)).to.equal(true);
    // Each of these is read: the phase, a label, the record, the node, a deletion, the spec.
    for (const changed of [
      at({}, { phase: 'Running' }),
      at({ labels: { app: 'x' } }, { phase: 'Pending' }),
      at({ annotations: { [ANNOTATION_VIOLATIONS]: '[]' } }, { phase: 'Pending' }),
      at({ deletionTimestamp: '2026-12-04T10:00:00Z' }, { phase: 'Pending' }),
      at({}, { phase: 'Pending' }, { ...spec, nodeName: 'worker-1' } as typeof spec),
      at(
        {},
        { phase: 'Pending' },
        { containers: [{ name: 'app', image: 'j', securityContext: { privileged: true } }] },
      ),
    ])
      expect(sameForReconcile(before, changed)).to.equal(false);
  });
});
