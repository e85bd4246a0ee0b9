import { expect } from 'chai';
import {
  policyObject,
  type PolicyObject,
} from '../../../../src/controllers/policy/cached-policy.ts';
import { PolicyRegistry } from '../../../../src/controllers/policy/registry.ts';
import { policyJson, type Json } from '../../builders.ts';

const RULES = { rules: { hostPaths: { denySensitive: true } } };

function obj(spec: Json, name = 'p1', meta: Json = {}): PolicyObject {
  const raw = policyJson(spec, name);
  raw.metadata = { ...(raw.metadata as Json), uid: `uid-${name}`, generation: 1, ...meta };
  const o = policyObject(raw);
  if (!o) throw new Error('not a policy');
  return o;
}

describe('PolicyRegistry', () => {
  it('parses a valid policy once per generation: Ready/Accepted, in effect', () => {
    const reg = new PolicyRegistry();
    const first = reg.upsert(obj(RULES));
    expect(first.changed).to.equal(true);
    expect(first.entry.readiness).to.deep.equal({ ready: true, reason: 'Accepted', message: '' });
    expect(reg.ready().map((c) => c.policy.name)).to.deep.equal(['p1']);
    const again = reg.upsert(obj(RULES));
    expect(again.changed).to.equal(false);
    expect(again.entry).to.equal(first.entry);
    expect(reg.upsert(obj(RULES, 'p1', { generation: 2 })).changed).to.equal(true);
    // A policy deleted and recreated under the same name has a new uid: parsed again.
    expect(reg.upsert(obj(RULES, 'p1', { generation: 2, uid: 'other' })).changed).to.equal(true);
  });

  it('keeps an unusable policy with InvalidSpec and a message naming the field, out of effect', () => {
    const reg = new PolicyRegistry();
    reg.upsert(obj(RULES, 'good'));
    const { entry } = reg.upsert(
      obj({ rules: { commands: { deniedPatterns: ['(unclosed'] } } }, 'bad'),
    );
    expect(entry.readiness.ready).to.equal(false);
    expect(entry.readiness.reason).to.equal('InvalidSpec');
    expect(entry.readiness.message).to.contain('spec.rules.commands.deniedPatterns');
    expect(reg.get('bad')).to.equal(entry);
    expect(reg.compiled('bad')).to.equal(undefined);
    expect(reg.compiled('good')?.policy.name).to.equal('good');
    expect(reg.ready().map((c) => c.policy.name)).to.deep.equal(['good']);
    expect(
      reg
        .all()
        .map((e) => e.name)
        .sort(),
    ).to.deep.equal(['bad', 'good']);
  });

  it('a policy fixed in a new generation comes into effect; a broken edit keeps the last valid one', () => {
    const reg = new PolicyRegistry();
    reg.upsert(obj({ rules: { commands: { deniedPatterns: ['('] } } }));
    expect(reg.ready()).to.have.length(0);
    reg.upsert(obj(RULES, 'p1', { generation: 2 }));
    expect(reg.ready()).to.have.length(1);
    reg.upsert(obj({ mode: 'Sometimes' }, 'p1', { generation: 3 }));
    expect(reg.ready().map((c) => c.policy.generation)).to.deep.equal([2]);
    expect(reg.get('p1')?.readiness.message).to.contain('spec.mode');
    expect(reg.get('p1')?.readiness.message).to.contain('generation 2 stays in effect');
  });

  it('ready() is sorted by name and refreshed after remove', () => {
    const reg = new PolicyRegistry();
    for (const n of ['c', 'a', 'b']) reg.upsert(obj(RULES, n));
    expect(reg.ready().map((c) => c.policy.name)).to.deep.equal(['a', 'b', 'c']);
    expect(reg.remove('b')).to.equal(true);
    expect(reg.remove('b')).to.equal(false);
    expect(reg.ready().map((c) => c.policy.name)).to.deep.equal(['a', 'c']);
    expect(reg.get('b')).to.equal(undefined);
  });

  it('usesNamespaceSelector looks at the policies in effect only', () => {
    const reg = new PolicyRegistry();
    reg.upsert(obj(RULES, 'plain'));
    expect(reg.usesNamespaceSelector()).to.equal(false);
    reg.upsert(
      obj(
        {
          ...RULES,
          match: { namespaceSelector: { matchLabels: { env: 'prod' } } },
          rules: { commands: { deniedPatterns: ['('] } },
        },
        'broken',
      ),
    );
    expect(reg.usesNamespaceSelector()).to.equal(false);
    reg.upsert(obj({ ...RULES, match: { namespaceSelector: { matchLabels: { e: 'p' } } } }, 's'));
    expect(reg.usesNamespaceSelector()).to.equal(true);
    reg.remove('s');
    expect(reg.usesNamespaceSelector()).to.equal(false);
  });

  it('policyObject drops managedFields and keeps the status; rejects non-policies', () => {
    const raw = policyJson(RULES);
    raw.metadata = { name: 'p1', managedFields: [{ manager: 'x' }], generation: 4, uid: 'u' };
    raw.status = { totalViolations: 3 };
    const o = policyObject(raw);
    expect(o?.generation).to.equal(4);
    expect(o?.uid).to.equal('u');
    expect(o?.status).to.deep.equal({ totalViolations: 3 });
    expect((o?.raw.metadata as Json).managedFields).to.equal(undefined);
    expect(policyObject(null)).to.equal(undefined);
    expect(policyObject({ metadata: { name: 5 } })).to.equal(undefined);
    expect(policyObject({ metadata: { name: 'x', generation: 'one' } })?.generation).to.equal(0);
  });
});

describe('PolicyRegistry: a bad edit of a valid policy', () => {
  it('keeps the last valid generation in effect and says so; a fix replaces it', async () => {
    const { PolicyRegistry: Registry } =
      await import('../../../../src/controllers/policy/registry.ts');
    const { policyObject: toObject } =
      await import('../../../../src/controllers/policy/cached-policy.ts');
    const { policyJson: build } = await import('../../builders.ts');
    const obj = (spec: Record<string, unknown>, generation: number) => {
      const raw = build(spec, 'p');
      raw.metadata = { name: 'p', uid: 'u', generation };
      const o = toObject(raw);
      if (!o) throw new Error('bad');
      return o;
    };
    const r = new Registry();
    r.upsert(obj({ rules: { indicators: { enabled: true } } }, 1));
    const { entry } = r.upsert(obj({ rules: { commands: { deniedPatterns: ['(a)\\1'] } } }, 2));
    expect(entry.readiness.ready).to.equal(false);
    expect(entry.readiness.message).to.contain('spec.rules.commands.deniedPatterns[0]');
    expect(entry.readiness.message).to.contain('generation 1 stays in effect');
    expect(r.ready().map((c) => c.policy.generation)).to.deep.equal([1]);
    expect(r.compiled('p')?.policy.generation).to.equal(1);
    r.upsert(obj({ rules: { indicators: { enabled: false } } }, 3));
    expect(r.ready().map((c) => c.policy.generation)).to.deep.equal([3]);
    // A policy that was never valid enforces nothing.
    const fresh = new Registry();
    fresh.upsert(obj({ rules: { commands: { deniedPatterns: ['(a)\\1'] } } }, 1));
    expect(fresh.ready()).to.deep.equal([]);
  });
});
