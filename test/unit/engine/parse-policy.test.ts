import { expect } from 'chai';
import { describeProblems, parsePolicy } from '../../../src/engine/parse-policy.ts';
import { INVALID_POLICIES } from '../../fixtures/invalid-policies.ts';
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

  for (const c of INVALID_POLICIES) {
    it(`rejects ${c.what}, naming ${c.field}`, () => {
      const got = problems(c.spec);
      // The parser may name a more precise spot inside the field (a map key): spec.severity[nope].
      const names = (p: string) => p.startsWith(`${c.field}: `) || p.startsWith(`${c.field}[`);
      expect(got.some(names), got.join('\n')).to.equal(true);
      if (c.message) expect(got.join('\n')).to.contain(c.message);
    });
  }

  it('rejects a missing spec', () => {
    expect(problems(undefined)).to.deep.equal(['spec: Required value']);
  });

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
