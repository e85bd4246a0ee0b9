import { expect } from 'chai';
import { describeProblems, parsePolicy } from '../../../src/api/parse.ts';
import { policyJson, type Json } from '../builders.ts';

function problems(spec: Json | undefined, extra: Json = {}): string[] {
  const raw = { ...policyJson(spec ?? {}), ...extra };
  if (spec === undefined) delete (raw as Json).spec;
  const r = parsePolicy(raw);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

const ok = { rules: { indicators: {} } };

describe('policy parsing', () => {
  it('applies every default the CRD declares', () => {
    const r = parsePolicy(
      policyJson({
        rules: {
          podSecurity: { level: 'baseline' },
          images: {},
          hostPaths: {},
          scheduling: {},
          ownership: {},
          indicators: {},
        },
        actions: [{ type: 'DeletePod' }],
      }),
    );
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    const s = r.policy.spec;
    expect(s.mode).to.equal('Audit');
    expect(s.match.namespaces).to.deep.equal(['*']);
    expect(s.match.excludeNamespaces).to.deep.equal([]);
    expect(s.exclude).to.deep.include({ images: [], serviceAccounts: [] });
    expect(s.rules.podSecurity).to.deep.equal({
      level: 'baseline',
      version: 'latest',
      exemptChecks: [],
    });
    expect(s.rules.images).to.deep.equal({
      allowedRegistries: [],
      deniedImages: [],
      requireDigest: false,
      disallowLatestTag: true,
    });
    expect(s.rules.hostPaths).to.deep.equal({ denySensitive: true, denied: [] });
    expect(s.rules.indicators).to.deep.equal({ enabled: true });
    expect(s.rules.scheduling).to.deep.equal({
      denyNodeName: true,
      denyHostnameSelector: true,
      denyControlPlaneTolerations: true,
    });
    expect(s.rules.ownership).to.deep.equal({ denyBarePods: true });
    expect(s.rules.commands).to.equal(undefined);
    expect(s.rules.schedule).to.equal(undefined);
    expect(s.guards).to.deep.equal({
      maxActionsPerMinute: 30,
      protectedNamespaces: ['kube-system'],
      maxCordonedNodesPercent: 20,
      ignoreOwnerKinds: [],
    });
    expect(s.actions[0]).to.deep.include({ type: 'DeletePod', evict: false });
  });

  it('treats null fields as absent, as the API server does', () => {
    expect(problems({ rules: { indicators: null, hostPaths: {} }, match: null })).to.deep.equal([]);
  });

  const bad: [string, Json | undefined, string][] = [
    ['a missing spec', undefined, 'spec: Required value'],
    ['an unknown mode', { ...ok, mode: 'Bogus' }, 'spec.mode: Unsupported value: "Bogus"'],
    [
      'an unknown field',
      { ...ok, rules: { indicators: {}, bogus: {} } },
      'spec.rules.bogus: unknown field',
    ],
    [
      'a wrong type',
      { ...ok, match: { namespaces: 'default' } },
      'spec.match.namespaces: must be of type array',
    ],
    ['no rule block', { rules: {} }, 'spec.rules: rules must contain at least one rule block'],
    [
      'a bad PSS level',
      { rules: { podSecurity: { level: 'strict' } } },
      'spec.rules.podSecurity.level: Unsupported value',
    ],
    [
      'a missing PSS level',
      { rules: { podSecurity: {} } },
      'spec.rules.podSecurity.level: Required value',
    ],
    [
      'an unknown PSS version',
      { rules: { podSecurity: { level: 'baseline', version: 'v2.0' } } },
      'spec.rules.podSecurity.version',
    ],
    [
      'an unknown PSS check ID',
      { rules: { podSecurity: { level: 'baseline', exemptChecks: ['hostPorts', 'noSuchCheck'] } } },
      'spec.rules.podSecurity.exemptChecks[1]: unknown Pod Security Standards check ID "noSuchCheck"',
    ],
    [
      'a bad regex',
      { rules: { commands: { deniedPatterns: ['ok', '(unclosed'] } } },
      'spec.rules.commands.deniedPatterns[1]',
    ],
    [
      'a backreference (not RE2)',
      { rules: { commands: { deniedPatterns: ['(a)\\1'] } } },
      'spec.rules.commands.deniedPatterns[0]',
    ],
    [
      'an unknown time zone',
      {
        rules: {
          schedule: {
            allowedWindows: [
              { days: ['Mon'], start: '08:00', end: '18:00', timeZone: 'Mars/Olympus' },
            ],
          },
        },
      },
      'spec.rules.schedule.allowedWindows[0].timeZone: unknown IANA time zone "Mars/Olympus"',
    ],
    [
      'a bad time',
      { rules: { schedule: { allowedWindows: [{ days: ['Mon'], start: '8am', end: '18:00' }] } } },
      'spec.rules.schedule.allowedWindows[0].start',
    ],
    [
      'an empty window',
      {
        rules: { schedule: { allowedWindows: [{ days: ['Mon'], start: '08:00', end: '08:00' }] } },
      },
      'spec.rules.schedule.allowedWindows[0].end',
    ],
    [
      'a bad weekday',
      {
        rules: {
          schedule: { allowedWindows: [{ days: ['Monday'], start: '08:00', end: '18:00' }] },
        },
      },
      'spec.rules.schedule.allowedWindows[0].days[0]: Unsupported value',
    ],
    [
      'an unknown action',
      { ...ok, actions: [{ type: 'Nuke' }] },
      'spec.actions[0].type: Unsupported value: "Nuke"',
    ],
    [
      'a Label action without labels',
      { ...ok, actions: [{ type: 'Label' }] },
      'spec.actions[0].labels',
    ],
    [
      'labels on a DeletePod action',
      { ...ok, actions: [{ type: 'DeletePod', labels: { a: 'b' } }] },
      'spec.actions[0].labels: labels is only allowed on a Label action',
    ],
    [
      'evict on a Label action',
      { ...ok, actions: [{ type: 'Label', labels: { a: 'b' }, evict: true }] },
      'spec.actions[0].evict',
    ],
    [
      'a bad severity',
      { ...ok, actions: [{ type: 'Isolate', minSeverity: 'severe' }] },
      'spec.actions[0].minSeverity: Unsupported value',
    ],
    [
      'an unknown rule ID in severity',
      { ...ok, severity: { 'image.nope': 'low' } },
      'spec.severity[image.nope]: unknown rule ID',
    ],
    [
      'a bad service account',
      { ...ok, exclude: { serviceAccounts: ['node-exporter'] } },
      'spec.exclude.serviceAccounts[0]',
    ],
    [
      'In without values',
      { ...ok, match: { podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } } },
      'spec.match.podSelector.matchExpressions[0].values',
    ],
    [
      'a cordon cap over 100',
      { ...ok, guards: { maxCordonedNodesPercent: 150 } },
      'spec.guards.maxCordonedNodesPercent: must be less than or equal to 100',
    ],
    [
      'a zero rate limit',
      { ...ok, guards: { maxActionsPerMinute: 0 } },
      'spec.guards.maxActionsPerMinute: must be greater than or equal to 1',
    ],
    [
      'a relative denied host path',
      { rules: { hostPaths: { denied: ['opt/secrets'] } } },
      'spec.rules.hostPaths.denied[0]',
    ],
  ];
  for (const [what, spec, want] of bad) {
    it(`rejects ${what}, naming the field`, () => {
      const got = problems(spec);
      expect(got.join('\n')).to.contain(want);
    });
  }

  it('reports every problem at once, not only the first', () => {
    const got = problems({ mode: 'Bogus', rules: {}, actions: [{ type: 'Nuke' }] });
    expect(got.length).to.be.at.least(2);
  });

  it('checks apiVersion, kind and metadata.name', () => {
    expect(problems(ok, { apiVersion: 'deployguard.dev/v1' })[0]).to.contain('apiVersion');
    expect(problems(ok, { metadata: { name: 'Not_A_Name' } })[0]).to.contain('metadata.name');
  });

  it('describes problems on one line', () => {
    expect(
      describeProblems([
        { path: 'spec.mode', message: 'bad' },
        { path: 'spec.x', message: 'worse' },
      ]),
    ).to.equal('spec.mode: bad; spec.x: worse');
  });
});
