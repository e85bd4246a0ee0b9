import { expect } from 'chai';
import { OwnerVerifier } from '../../../../src/controllers/pod/owner-verifier.ts';
import { apiError, FakeKubeApi } from '../../../support/fake-kube-api.ts';
import { FakeClock } from '../../../support/fake-clock.ts';
import { podJson, view } from '../../builders.ts';

const RS = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'web-1',
  uid: 'rs-1',
  controller: true,
};
const RS_PATH = '/apis/apps/v1/namespaces/team-a/replicasets/web-1';

function cluster() {
  // team-a holds ReplicaSet web-1 with UID rs-1, and nothing else.
  return new FakeKubeApi((req) => {
    if (req.path === RS_PATH) return { metadata: { name: 'web-1', uid: 'rs-1' } };
    throw apiError(404, 'NotFound', req);
  });
}

const podOwnedBy = (...ownerReferences: object[]) =>
  view(podJson({}, { namespace: 'team-a', name: 'p', uid: 'p-1', ownerReferences }));

describe('OwnerVerifier', () => {
  it('keeps a controller that exists in the namespace with that UID', async () => {
    const v = new OwnerVerifier(cluster(), new FakeClock());
    const r = await v.verify(podOwnedBy(RS));
    expect(r.falseClaims).to.deep.equal([]);
    expect(r.view.metadata.ownerReferences).to.deep.equal([RS]);
  });

  it('drops a claimed owner of an unknown group, a wrong UID, or a name from elsewhere', async () => {
    const v = new OwnerVerifier(cluster(), new FakeClock());
    const evil = {
      apiVersion: 'evil.example/v1',
      kind: 'DaemonSet',
      name: 'x',
      uid: 'u',
      controller: true,
    };
    const stolen = { ...RS, uid: 'rs-of-another-namespace' };
    const missing = { ...RS, name: 'nope' };
    for (const claim of [evil, stolen, missing]) {
      const r = await v.verify(podOwnedBy(claim));
      expect(r.falseClaims, JSON.stringify(claim)).to.deep.equal([claim]);
      expect(r.view.metadata.ownerReferences).to.deep.equal([]);
    }
  });

  it('leaves references that claim no control alone, and asks the cluster once per owner', async () => {
    const api = cluster();
    const v = new OwnerVerifier(api, new FakeClock());
    const plain = { ...RS, controller: false, name: 'whatever' };
    for (let i = 0; i < 5; i++) await v.verify(podOwnedBy(RS, plain));
    expect(api.calls()).to.deep.equal([`GET ${RS_PATH}`]);
  });

  it('rechecks a refuted claim after a while (the owner may appear), a confirmed one later', async () => {
    const api = cluster();
    const clock = new FakeClock();
    const v = new OwnerVerifier(api, clock);
    const missing = { ...RS, name: 'later' };
    await v.verify(podOwnedBy(missing));
    await v.verify(podOwnedBy(missing));
    expect(api.requests).to.have.length(1);
    clock.advance(30_000);
    await v.verify(podOwnedBy(missing));
    expect(api.requests).to.have.length(2);
  });

  it('rejects (the queue retries) when the cluster cannot say', async () => {
    const v = new OwnerVerifier(
      new FakeKubeApi((req) => {
        throw apiError(503, 'ServiceUnavailable', req);
      }),
      new FakeClock(),
    );
    let failed = false;
    await v.verify(podOwnedBy(RS)).catch(() => (failed = true));
    expect(failed).to.equal(true);
  });
});
