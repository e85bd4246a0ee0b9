import { expect } from 'chai';
import fc from 'fast-check';
import { BoundedMap } from '../../../src/base/bounded-map.ts';

describe('BoundedMap', () => {
  it('forgets the oldest entry when a new key arrives while full', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('c', 3);
    expect([...m.keys()]).to.deep.equal(['b', 'c']);
    expect(m.get('a')).to.equal(undefined);
  });

  it('set() of a known key refreshes it instead of evicting', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 3).set('c', 4);
    expect([...m.entries()]).to.deep.equal([
      ['a', 3],
      ['c', 4],
    ]);
  });

  it('getOrCreate stores what it makes, once', () => {
    const m = new BoundedMap<string, string[]>(10);
    const first = m.getOrCreate('k', () => []);
    first.push('x');
    expect(m.getOrCreate('k', () => ['other'])).to.equal(first);
  });

  it('never holds more than max entries, whatever is inserted (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.string(), { maxLength: 200 }),
        (max, keys) => {
          const m = new BoundedMap<string, number>(max);
          keys.forEach((k, i) => m.set(k, i));
          expect(m.size).to.be.at.most(max);
          const last = keys.at(-1);
          if (last !== undefined) expect(m.get(last)).to.equal(keys.lastIndexOf(last));
        },
      ),
    );
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new BoundedMap(0)).to.throw(RangeError);
    expect(() => new BoundedMap(1.5)).to.throw(RangeError);
  });
});
