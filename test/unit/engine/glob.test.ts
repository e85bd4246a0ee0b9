import { expect } from 'chai';
import { compileGlob } from '../../../src/engine/glob.ts';
import { selectorMatches } from '../../../src/engine/label-selector.ts';
import { cpuMs } from '../../support/cpu.ts';

describe('glob', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'anything/at:all', true],
    ['kube-system', 'kube-system', true],
    ['kube-system', 'kube-system2', false],
    ['team-*', 'team-a', true],
    ['team-*', 'xteam-a', false],
    ['*xmrig*', 'docker.io/attacker/xmrig:6.21.0', true],
    ['*/kinsing*', 'docker.io/library/kinsing:latest', true],
    ['*/kinsing*', 'kinsing', false],
    ['registry.k8s.io/*', 'registry.k8s.io/pause:3.10', true],
    ['registry.k8s.io/*', 'registry.k8s.io.evil.com/pause', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*a*b*c*', 'xxaxxbxxcxx', true],
    ['*a*b*c*', 'xxaxxcxxbxx', false],
    ['', '', true],
    ['', 'x', false],
  ];
  for (const [pattern, input, want] of cases) {
    it(`${JSON.stringify(pattern)} ${want ? 'matches' : 'does not match'} ${JSON.stringify(input)}`, () => {
      expect(compileGlob(pattern).matches(input)).to.equal(want);
    });
  }

  it('stays fast on adversarial input (no exponential backtracking)', () => {
    const g = compileGlob('*a*a*a*a*a*a*a*a*b');
    const input = 'a'.repeat(4096);
    let matched = true;
    const ms = cpuMs(() => (matched = g.matches(input)));
    expect(matched).to.equal(false);
    expect(ms).to.be.below(2000);
  });
});

describe('label selector', () => {
  const labels = { app: 'web', tier: 'front' };
  it('matches matchLabels and every expression operator', () => {
    expect(selectorMatches({ matchLabels: { app: 'web' }, matchExpressions: [] }, labels)).to.equal(
      true,
    );
    expect(selectorMatches({ matchLabels: { app: 'db' }, matchExpressions: [] }, labels)).to.equal(
      false,
    );
    const expr = (
      operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist',
      key: string,
      values: string[] = [],
    ) => ({
      matchLabels: {},
      matchExpressions: [{ key, operator, values }],
    });
    expect(selectorMatches(expr('In', 'tier', ['front', 'back']), labels)).to.equal(true);
    expect(selectorMatches(expr('In', 'tier', ['back']), labels)).to.equal(false);
    expect(selectorMatches(expr('In', 'missing', ['x']), labels)).to.equal(false);
    expect(selectorMatches(expr('NotIn', 'tier', ['back']), labels)).to.equal(true);
    expect(selectorMatches(expr('NotIn', 'missing', ['x']), labels)).to.equal(true);
    expect(selectorMatches(expr('NotIn', 'tier', ['front']), labels)).to.equal(false);
    expect(selectorMatches(expr('Exists', 'app'), labels)).to.equal(true);
    expect(selectorMatches(expr('Exists', 'nope'), labels)).to.equal(false);
    expect(selectorMatches(expr('DoesNotExist', 'nope'), labels)).to.equal(true);
    expect(selectorMatches(expr('DoesNotExist', 'app'), labels)).to.equal(false);
  });
  it('does not treat prototype keys as labels', () => {
    expect(
      selectorMatches(
        {
          matchLabels: {},
          matchExpressions: [{ key: 'constructor', operator: 'Exists', values: [] }],
        },
        {},
      ),
    ).to.equal(false);
  });
});
