import { expect } from 'chai';
import { cachedPod } from '../../../../src/controllers/pod/cached-pod.ts';
import { SharedValues } from '../../../../src/controllers/pod/shared-values.ts';
import { parsePolicy } from '../../../../src/engine/parse-policy.ts';
import { evaluate } from '../../../../src/engine/evaluate.ts';
import type { CompiledPolicy } from '../../../../src/engine/compiled-policy.ts';
import { realisticPods, realisticPolicies } from '../../../../bench/workload.ts';
import { podJson } from '../../builders.ts';

const replica = (name: string, node: string) =>
  podJson(
    {
      nodeName: node,
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0', args: ['--port=80'] }],
      // The token volume the ServiceAccount admission adds has a random name in every pod.
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: `kube-api-access-x${name.replace('-', '')}`, projected: { sources: [] } },
      ],
    },
    {
      name,
      uid: `uid-${name}`,
      labels: { app: 'api', 'pod-template-hash': '7d9f' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'api-7d9f',
          uid: 'rs',
          controller: true,
        },
      ],
    },
  );

describe('shared values: replicas keep one copy of what they have in common', () => {
  it('two replicas share their containers, volumes, labels and owner, not their name or node', () => {
    const shared = new SharedValues();
    const a = cachedPod(replica('api-1', 'node-1'), shared)?.view;
    const b = cachedPod(replica('api-2', 'node-2'), shared)?.view;
    expect(b?.spec.containers).to.equal(a?.spec.containers);
    // The list differs by the token volume's name; each volume the replicas have alike is shared.
    expect(b?.spec.volumes[0]).to.equal(a?.spec.volumes[0]);
    expect(b?.spec.volumes[1]?.name).to.equal('kube-api-access-xapi2');
    expect(a?.spec.volumes[1]?.name).to.equal('kube-api-access-xapi1');
    // The token volume is the pod's own but for what it is made of.
    expect(b?.spec.volumes[1]).to.not.equal(a?.spec.volumes[1]);
    expect(b?.spec.volumes[1]?.sources).to.equal(a?.spec.volumes[1]?.sources);
    expect(Object.isFrozen(b?.spec.volumes[1])).to.equal(true);
    expect(Object.isFrozen(b?.spec.volumes)).to.equal(true);
    expect(b?.metadata.labels).to.equal(a?.metadata.labels);
    expect(b?.metadata.ownerReferences).to.equal(a?.metadata.ownerReferences);
    expect(b?.spec.nodeName).to.equal('node-2');
    expect(b?.metadata.name).to.equal('api-2');
    expect(a?.metadata.name).to.equal('api-1');
  });

  it('does not share values that differ in any field', () => {
    const shared = new SharedValues();
    const a = cachedPod(replica('api-1', 'n'), shared)?.view;
    const other = replica('api-2', 'n') as { spec: { containers: { args: string[] }[] } };
    (other.spec.containers[0] as { args: string[] }).args = ['--port=81'];
    const b = cachedPod(other, shared)?.view;
    expect(b?.spec.containers).to.not.equal(a?.spec.containers);
    expect(b?.spec.containers[0]?.args).to.deep.equal(['--port=81']);
    expect(a?.spec.containers[0]?.args).to.deep.equal(['--port=80']);
  });

  it('freezes what it shares: a write to one pod view throws instead of changing every replica', () => {
    const shared = new SharedValues();
    const a = cachedPod(replica('api-1', 'n'), shared)?.view;
    const b = cachedPod(replica('api-2', 'n'), shared)?.view;
    expect(() => {
      (a?.spec.containers[0] as { image: string }).image = 'miner';
    }).to.throw(TypeError);
    expect(() => {
      (a?.metadata.labels as Record<string, string>).app = 'x';
    }).to.throw(TypeError);
    expect(() => {
      (a?.spec.volumes as unknown[]).push({ name: 'host' });
    }).to.throw(TypeError);
    expect(() => {
      (a?.metadata.annotations as Record<string, string>).x = 'y';
    }).to.throw(TypeError);
    expect(b?.spec.containers[0]?.image).to.equal('registry.example.com/app:1.0');
  });

  it('judges shared views exactly as unshared ones, attacks included', () => {
    const policies = realisticPolicies().map((p) => {
      const r = parsePolicy(p);
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.compiled;
    }) as CompiledPolicy[];
    const shared = new SharedValues();
    const ctx = { namespaceLabels: {}, now: new Date('2026-12-01T12:00:00Z') };
    const pods = realisticPods(60);
    for (const raw of pods) {
      const plain = cachedPod(structuredClone(raw));
      const kept = cachedPod(structuredClone(raw), shared);
      expect(kept?.view).to.deep.equal(plain?.view);
      expect(evaluate(kept!.view, policies, ctx)).to.deep.equal(
        evaluate(plain!.view, policies, ctx),
      );
    }
    // 57 app pods and 3 attacks: a handful of distinct values, not one set per pod.
    expect(shared.size).to.be.below(40);
  });
});
