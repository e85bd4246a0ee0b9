import { expect } from 'chai';
import { Store, keyNamespace, objectKey } from '../../../src/kube/store.ts';

describe('Store', () => {
  it('keys namespaced objects as namespace/name and cluster-scoped ones as name', () => {
    expect(objectKey('ns', 'p')).to.equal('ns/p');
    expect(objectKey(undefined, 'node-1')).to.equal('node-1');
    expect(objectKey('', 'node-1')).to.equal('node-1');
    expect(keyNamespace('ns/p')).to.equal('ns');
    expect(keyNamespace('node-1')).to.equal('');
  });

  it('gets, sets, deletes and counts', () => {
    const s = new Store<number>();
    s.set('a/1', 1);
    s.set('a/1', 2);
    s.set('b/1', 3);
    expect(s.get('a/1')).to.equal(2);
    expect(s.has('b/1')).to.equal(true);
    expect(s.size).to.equal(2);
    expect([...s.keys()]).to.deep.equal(['a/1', 'b/1']);
    expect([...s.values()]).to.deep.equal([2, 3]);
    expect(s.delete('a/1')).to.equal(true);
    expect(s.delete('a/1')).to.equal(false);
    expect(s.get('a/1')).to.equal(undefined);
    expect(s.size).to.equal(1);
  });

  it('keeps a namespace index in step with sets and deletes', () => {
    const s = new Store<string>();
    s.set('a/1', 'a1');
    s.set('a/2', 'a2');
    s.set('b/1', 'b1');
    s.set('node-1', 'n1');
    s.set('a/1', 'a1-new');
    expect(s.inNamespace('a')).to.deep.equal(['a1-new', 'a2']);
    expect(s.keysInNamespace('b')).to.deep.equal(['b/1']);
    expect(s.keysInNamespace('')).to.deep.equal(['node-1']);
    expect(s.inNamespace('none')).to.deep.equal([]);
    s.delete('a/1');
    s.delete('a/2');
    expect(s.inNamespace('a')).to.deep.equal([]);
    expect(s.keysInNamespace('a')).to.deep.equal([]);
  });

  it('does not mistake a namespace prefix for a namespace', () => {
    const s = new Store<string>();
    s.set('ab/1', 'x');
    s.set('a/1', 'y');
    expect(s.inNamespace('a')).to.deep.equal(['y']);
  });
});
