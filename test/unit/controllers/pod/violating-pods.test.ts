import { expect } from 'chai';
import type { Severity } from '../../../../src/api/constants.ts';
import { ViolatingPods } from '../../../../src/controllers/pod/violating-pods.ts';
import type { Violation } from '../../../../src/engine/violation.ts';

function v(policy: string, rule: string, severity: Severity = 'high'): Violation {
  return { policy, rule, severity, path: 'spec', message: 'm', techniques: ['T1610'] };
}
const pod = (namespace: string, name: string) => ({ namespace, name, uid: `uid-${name}` });

describe('ViolatingPods', () => {
  it('set records, counts each pod once per policy, and reports changes', () => {
    const vp = new ViolatingPods();
    expect(vp.set('a/x', pod('a', 'x'), [v('p', 'r1', 'critical'), v('p', 'r2', 'low')])).to.equal(
      true,
    );
    expect(vp.set('a/y', pod('a', 'y'), [v('p', 'r1', 'critical'), v('q', 'r1')])).to.equal(true);
    expect(vp.count('p')).to.equal(2);
    expect(vp.count('q')).to.equal(1);
    expect(vp.count('none')).to.equal(0);
    expect(vp.size).to.equal(2);
    expect(vp.policies().sort()).to.deep.equal(['p', 'q']);
    expect(vp.get('a/x')?.violations).to.have.length(2);
    expect(vp.get('a/x')).to.include({ namespace: 'a', name: 'x', uid: 'uid-x' });
  });

  it('set with no violations removes the pod and unindexes it; false when nothing was there', () => {
    const vp = new ViolatingPods();
    expect(vp.set('a/x', pod('a', 'x'), [])).to.equal(false);
    vp.set('a/x', pod('a', 'x'), [v('p', 'r1')]);
    expect(vp.set('a/x', pod('a', 'x'), [])).to.equal(true);
    expect(vp.get('a/x')).to.equal(undefined);
    expect(vp.count('p')).to.equal(0);
    expect([...vp.series()]).to.deep.equal([]);
    expect(vp.policies()).to.deep.equal([]);
  });

  it('a new set replaces the previous violations (no stale series)', () => {
    const vp = new ViolatingPods();
    vp.set('a/x', pod('a', 'x'), [v('p', 'r1', 'critical')]);
    vp.set('a/x', pod('a', 'x'), [v('q', 'r1', 'low')]);
    expect(vp.count('p')).to.equal(0);
    expect([...vp.series()]).to.deep.equal([['q', 'low', 1]]);
  });

  it('delete unindexes and marks the namespace dirty; deleting an unknown key is a no-op', () => {
    const vp = new ViolatingPods();
    vp.set('a/x', pod('a', 'x'), [v('p', 'r1')]);
    vp.takeDirtyNamespaces();
    vp.delete('a/nope');
    expect(vp.takeDirtyNamespaces()).to.deep.equal([]);
    vp.delete('a/x');
    expect(vp.count('p')).to.equal(0);
    expect(vp.takeDirtyNamespaces()).to.deep.equal(['a']);
  });

  it('inNamespace and takeDirtyNamespaces', () => {
    const vp = new ViolatingPods();
    vp.set('a/x', pod('a', 'x'), [v('p', 'r1')]);
    vp.set('b/y', pod('b', 'y'), [v('p', 'r1')]);
    expect(vp.inNamespace('a').map((p) => p.name)).to.deep.equal(['x']);
    expect(vp.inNamespace('c')).to.deep.equal([]);
    expect(vp.takeDirtyNamespaces().sort()).to.deep.equal(['a', 'b']);
    expect(vp.takeDirtyNamespaces()).to.deep.equal([]);
  });

  it('keeps at most 64 violations per pod, but indexes all of them', () => {
    const vp = new ViolatingPods();
    const many = Array.from({ length: 200 }, (_, i) => v('p', `r${i}`));
    many.push(v('late', 'r', 'critical'));
    vp.set('a/x', pod('a', 'x'), many);
    expect(vp.get('a/x')?.violations).to.have.length(64);
    expect(vp.count('late')).to.equal(1);
  });

  it('the gauge series count a pod once per policy, under its highest severity (metrics help text)', () => {
    // deployguard_violating_pods is documented as "by policy and highest severity": summing the
    // series of a policy must give the number of violating pods, not more.
    const vp = new ViolatingPods();
    vp.set('a/x', pod('a', 'x'), [v('p', 'r1', 'critical'), v('p', 'r2', 'low')]);
    vp.set('a/y', pod('a', 'y'), [v('p', 'r2', 'low')]);
    const series = [...vp.series()].sort();
    expect(series).to.deep.equal([
      ['p', 'critical', 1],
      ['p', 'low', 1],
    ]);
  });
});

describe('ViolatingPods: only real changes count', () => {
  it('the same verdict again (a resync) changes nothing and dirties no namespace', () => {
    const vp = new ViolatingPods();
    expect(vp.set('a/x', pod('a', 'x'), [v('p', 'r', 'critical')])).to.equal(true);
    expect(vp.takeDirtyNamespaces()).to.deep.equal(['a']);
    expect(vp.set('a/x', pod('a', 'x'), [v('p', 'r', 'critical')])).to.equal(false);
    expect(vp.takeDirtyNamespaces()).to.deep.equal([]);
    expect(vp.set('a/x', pod('a', 'x'), [v('p', 'r', 'low')])).to.equal(true);
    expect(vp.takeDirtyNamespaces()).to.deep.equal(['a']);
    expect(vp.namespaces()).to.deep.equal(['a']);
    vp.delete('a/x');
    expect(vp.namespaces()).to.deep.equal([]);
    expect(vp.inNamespace('a')).to.deep.equal([]);
  });
});
