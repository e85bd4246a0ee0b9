import { expect } from 'chai';
import fc from 'fast-check';
import {
  ANNOTATION_DETECTED_AT,
  ANNOTATION_VIOLATIONS,
  LABEL_VIOLATING,
  SEVERITIES,
  type Severity,
} from '../../../../src/api/constants.ts';
import {
  MAX_RECORD_LENGTH,
  decodeRecorded,
  encodeRecorded,
  recordPatch,
  recordedState,
  summarize,
  type RecordedState,
  type RecordedViolation,
} from '../../../../src/controllers/pod/annotation-codec.ts';
import type { Violation } from '../../../../src/engine/violation.ts';
import { rfc3339 } from '../../../../src/kube/wire-time.ts';

const AT = new Date('2026-11-29T10:00:00.123Z');

function v(policy: string, rule: string, severity: Severity = 'high', path = 'spec'): Violation {
  return { policy, rule, severity, path, message: 'm', techniques: ['T1610'] };
}

/** The state a pod has after the merge patch is applied (null removes). */
function applied(state: RecordedState, patch: ReturnType<typeof recordPatch>): RecordedState {
  if (!patch) return state;
  const a = patch.metadata.annotations;
  const l = patch.metadata.labels;
  const pick = (next: string | null | undefined, prev: string | undefined) =>
    next === null ? undefined : next === undefined ? prev : next;
  const out: RecordedState = {};
  const annotation = pick(a[ANNOTATION_VIOLATIONS], state.annotation);
  const detectedAt = pick(a[ANNOTATION_DETECTED_AT], state.detectedAt);
  const label = pick(l[LABEL_VIOLATING], state.label);
  if (annotation !== undefined) out.annotation = annotation;
  if (detectedAt !== undefined) out.detectedAt = detectedAt;
  if (label !== undefined) out.label = label;
  return out;
}

describe('annotation codec: summarize', () => {
  it('dedupes per (policy, rule), keeping one entry per pair, sorted by policy then rule', () => {
    const out = summarize([
      v('zeta', 'pss.privileged', 'critical', 'spec.containers[0]'),
      v('alpha', 'image.latestTag', 'low'),
      v('zeta', 'pss.privileged', 'critical', 'spec.containers[1]'),
      v('alpha', 'hostPath.sensitive', 'critical'),
      v('alpha', 'image.latestTag', 'low', 'spec.initContainers[0]'),
    ]);
    expect(out).to.deep.equal([
      { policy: 'alpha', rule: 'hostPath.sensitive', severity: 'critical' },
      { policy: 'alpha', rule: 'image.latestTag', severity: 'low' },
      { policy: 'zeta', rule: 'pss.privileged', severity: 'critical' },
    ]);
  });
  it('is empty for no violations, and independent of input order', () => {
    expect(summarize([])).to.deep.equal([]);
    const list = [v('b', 'r2'), v('a', 'r9'), v('b', 'r1'), v('a', 'r1')];
    expect(summarize(list)).to.deep.equal(summarize([...list].reverse()));
  });
});

describe('annotation codec: encode/decode', () => {
  it('encodes compact JSON with keys in the contract order', () => {
    expect(
      encodeRecorded([{ severity: 'high', rule: 'r', policy: 'p' } as RecordedViolation]),
    ).to.equal('[{"policy":"p","rule":"r","severity":"high"}]');
    expect(encodeRecorded([])).to.equal('[]');
  });
  it('round-trips', () => {
    const entries = summarize([v('p', 'a', 'low'), v('q', 'b', 'critical'), v('p', 'c')]);
    expect(decodeRecorded(encodeRecorded(entries))).to.deep.equal(entries);
  });
  it('round-trips any entries (property)', () => {
    const entry = fc.record({
      policy: fc.string(),
      rule: fc.string(),
      severity: fc.constantFrom(...SEVERITIES),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), (entries) => {
        expect(decodeRecorded(encodeRecorded(entries))).to.deep.equal(entries);
      }),
    );
  });
  it('treats a missing, malformed or hostile value as nothing recorded', () => {
    const hostile = [
      undefined,
      '',
      'not json',
      '{',
      'null',
      '42',
      '"str"',
      '{"policy":"p","rule":"r","severity":"high"}',
      '[null]',
      '[1]',
      '[[]]',
      '[{"policy":"p","rule":"r"}]',
      '[{"policy":"p","rule":"r","severity":"urgent"}]',
      '[{"policy":"p","rule":"r","severity":"HIGH"}]',
      '[{"policy":1,"rule":"r","severity":"high"}]',
      '[{"policy":"p","rule":{},"severity":"high"}]',
      '[{"policy":"p","rule":"r","severity":"high"},{"policy":"p"}]',
      '[{"__proto__":{"policy":"p","rule":"r","severity":"high"}}]',
    ];
    for (const value of hostile) expect(decodeRecorded(value), String(value)).to.deep.equal([]);
  });
  it('never throws on arbitrary strings (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (s) => {
        expect(decodeRecorded(s)).to.be.an('array');
      }),
    );
  });
  it('recordedState reads the two annotations and the label', () => {
    expect(
      recordedState(
        { [ANNOTATION_VIOLATIONS]: '[]', [ANNOTATION_DETECTED_AT]: 'x', other: 'y' },
        { [LABEL_VIOLATING]: 'true' },
      ),
    ).to.deep.equal({ annotation: '[]', detectedAt: 'x', label: 'true', uid: undefined });
    expect(recordedState({}, {})).to.deep.equal({
      annotation: undefined,
      detectedAt: undefined,
      label: undefined,
      uid: undefined,
    });
  });
  it('rfc3339 drops the milliseconds', () => {
    expect(rfc3339(AT)).to.equal('2026-11-29T10:00:00Z');
  });
});

describe('annotation codec: recordPatch', () => {
  const now = summarize([v('p', 'pss.privileged', 'critical'), v('p', 'image.latestTag', 'low')]);
  const value = encodeRecorded(now);

  it('records a newly violating pod: annotation, detected-at, label', () => {
    expect(recordPatch({}, now, AT)).to.deep.equal({
      metadata: {
        annotations: {
          [ANNOTATION_VIOLATIONS]:
            '[{"policy":"p","rule":"image.latestTag","severity":"low"},{"policy":"p","rule":"pss.privileged","severity":"critical"}]',
          [ANNOTATION_DETECTED_AT]: '2026-11-29T10:00:00Z',
        },
        labels: { [LABEL_VIOLATING]: 'true' },
      },
    });
  });
  it('is undefined when the pod already carries exactly that record (idempotence)', () => {
    const state = { annotation: value, detectedAt: '2026-01-01T00:00:00Z', label: 'true' };
    expect(recordPatch(state, now, AT)).to.equal(undefined);
  });
  it('keeps an existing valid detected-at when the set changes', () => {
    const state = {
      annotation: '[{"policy":"p","rule":"image.latestTag","severity":"low"}]',
      detectedAt: '2026-01-01T00:00:00Z',
      label: 'true',
    };
    const patch = recordPatch(state, now, AT);
    expect(patch?.metadata.annotations[ANNOTATION_DETECTED_AT]).to.equal('2026-01-01T00:00:00Z');
    expect(patch?.metadata.annotations[ANNOTATION_VIOLATIONS]).to.equal(value);
  });
  it('restores a missing label or detected-at', () => {
    expect(
      recordPatch({ annotation: value, detectedAt: '2026-01-01T00:00:00Z' }, now, AT)?.metadata
        .labels,
    ).to.deep.equal({ [LABEL_VIOLATING]: 'true' });
    expect(
      recordPatch({ annotation: value, label: 'true' }, now, AT)?.metadata.annotations[
        ANNOTATION_DETECTED_AT
      ],
    ).to.equal('2026-11-29T10:00:00Z');
    expect(
      recordPatch({ annotation: value, detectedAt: 'x', label: 'false' }, now, AT),
    ).to.not.equal(undefined);
  });
  it('replaces an unparsable detected-at', () => {
    for (const bad of ['', 'garbage', '2026-13-45T99:00:00Z']) {
      const patch = recordPatch({ annotation: value, detectedAt: bad, label: 'true' }, now, AT);
      expect(patch?.metadata.annotations[ANNOTATION_DETECTED_AT], bad).to.equal(
        '2026-11-29T10:00:00Z',
      );
    }
  });
  it('replaces a detected-at that is not RFC 3339 (docs/api.md section 4), even if Date.parse reads it', () => {
    // V8's Date.parse accepts "hello 2020" and "1" (year 2001): a hostile value survives.
    for (const bad of ['hello 2020', '1']) {
      const patch = recordPatch({ annotation: value, detectedAt: bad, label: 'true' }, now, AT);
      expect(patch?.metadata.annotations[ANNOTATION_DETECTED_AT], bad).to.equal(
        '2026-11-29T10:00:00Z',
      );
    }
  });
  it('rewrites a tampered annotation', () => {
    const patch = recordPatch(
      { annotation: '[]', detectedAt: '2026-01-01T00:00:00Z', label: 'true' },
      now,
      AT,
    );
    expect(patch?.metadata.annotations[ANNOTATION_VIOLATIONS]).to.equal(value);
  });
  it('removes all three (null) when the pod stops violating, and nothing when none is there', () => {
    const expected = {
      metadata: {
        annotations: { [ANNOTATION_VIOLATIONS]: null, [ANNOTATION_DETECTED_AT]: null },
        labels: { [LABEL_VIOLATING]: null },
      },
    };
    expect(
      recordPatch({ annotation: value, detectedAt: '2026-01-01T00:00:00Z', label: 'true' }, [], AT),
    ).to.deep.equal(expected);
    expect(recordPatch({ label: 'true' }, [], AT)).to.deep.equal(expected);
    expect(recordPatch({ detectedAt: 'x' }, [], AT)).to.deep.equal(expected);
    expect(recordPatch({}, [], AT)).to.equal(undefined);
  });
  it('applying the patch reaches a fixed point (property)', () => {
    const entry = fc.record({
      policy: fc.constantFrom('p', 'q', 'r'),
      rule: fc.constantFrom('a', 'b', 'c'),
      severity: fc.constantFrom(...SEVERITIES),
    });
    const maybe = (a: fc.Arbitrary<string>) => fc.option(a, { nil: undefined });
    const state = fc.record({
      annotation: maybe(fc.oneof(fc.string(), fc.constant('[]'))),
      detectedAt: maybe(
        fc.oneof(
          fc.string(),
          fc
            .date({
              noInvalidDate: true,
              min: new Date('1970-01-01T00:00:00Z'),
              max: new Date('9999-12-31T23:59:59Z'),
            })
            .map((d) => d.toISOString()),
        ),
      ),
      label: maybe(fc.constantFrom('true', 'false', '')),
    });
    fc.assert(
      fc.property(
        state,
        fc.array(entry, { maxLength: 5 }),
        fc.date({
          noInvalidDate: true,
          min: new Date('1970-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
        }),
        (s, raw, at) => {
          const entries = summarize(raw.map((e) => v(e.policy, e.rule, e.severity)));
          const once = applied(s, recordPatch(s, entries, at));
          expect(recordPatch(once, entries, at)).to.equal(undefined);
          if (entries.length > 0) {
            expect(decodeRecorded(once.annotation)).to.deep.equal(entries);
            expect(once.label).to.equal('true');
            expect(Number.isNaN(Date.parse(once.detectedAt ?? ''))).to.equal(false);
          } else {
            expect([once.annotation, once.detectedAt, once.label]).to.deep.equal([
              undefined,
              undefined,
              undefined,
            ]);
          }
        },
      ),
    );
  });
});

describe('annotation codec: the record is bounded', () => {
  it('keeps the worst entries that fit MAX_RECORD_LENGTH, the same string for the same findings', () => {
    const entries: RecordedViolation[] = [];
    for (let i = 0; i < 800; i++)
      entries.push({ policy: `policy-${i}`, rule: 'hostPath.sensitive', severity: 'low' });
    entries.push({ policy: 'zz-last', rule: 'privileged', severity: 'critical' });
    const value = encodeRecorded(entries);
    expect(value.length).to.be.at.most(MAX_RECORD_LENGTH);
    const kept = decodeRecorded(value);
    expect(kept.length).to.be.above(100).and.below(entries.length);
    expect(kept).to.deep.include({ policy: 'zz-last', rule: 'privileged', severity: 'critical' });
    expect(encodeRecorded([...entries].reverse())).to.equal(value);
    // Under the bound nothing changes.
    expect(encodeRecorded(entries.slice(0, 3))).to.equal(JSON.stringify(entries.slice(0, 3)));
  });
});
