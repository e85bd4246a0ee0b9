// Leases (what leader election is built on) can be created and renewed, and a stale update is
// refused with a conflict: the optimistic concurrency the operator's leader election relies on.
//
// Written with kubectl and raw JSON on purpose: Lease times are MicroTime
// ("2006-01-02T15:04:05.000000Z"), and @kubernetes/client-node 2.0.1's typed API serialises
// Date fields with milliseconds, which the API server rejects with 400 (see the last test).
import { expect } from 'chai';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { freshNamespace, kubectl, loadKubeConfig } from '../cluster.ts';

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    renewTime?: string;
    acquireTime?: string;
  };
}

/** RFC 3339 with microseconds, as metav1.MicroTime serialises. */
const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

describe('smoke: Lease', () => {
  it('is created, renewed, and guarded by resourceVersion', async () => {
    const ns = await freshNamespace('dg-lease');
    const t0 = new Date();
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'deployguard-leader', namespace: ns },
      spec: {
        holderIdentity: 'replica-a',
        leaseDurationSeconds: 15,
        acquireTime: microTime(t0),
        renewTime: microTime(t0),
        leaseTransitions: 0,
      },
    };
    const created = JSON.parse(
      (await kubectl(['create', '-o', 'json', '-f', '-'], { input: JSON.stringify(lease) })).stdout,
    ) as Lease;
    expect(created.spec.holderIdentity).to.equal('replica-a');
    expect(created.spec.renewTime).to.equal(microTime(t0));

    const t1 = new Date(t0.getTime() + 2000);
    const renewed = JSON.parse(
      (
        await kubectl(['replace', '-o', 'json', '-f', '-'], {
          input: JSON.stringify({
            ...created,
            spec: { ...created.spec, renewTime: microTime(t1) },
          }),
        })
      ).stdout,
    ) as Lease;
    expect(renewed.spec.renewTime).to.equal(microTime(t1));
    expect(renewed.metadata.resourceVersion).to.not.equal(created.metadata.resourceVersion);

    // A second candidate still holding the old resourceVersion must lose.
    const stale = await kubectl(['replace', '-f', '-'], {
      input: JSON.stringify({ ...created, spec: { ...created.spec, holderIdentity: 'replica-b' } }),
      allowFail: true,
    });
    expect(stale.code).to.not.equal(0);
    expect(stale.stderr).to.match(/the object has been modified|Conflict/);

    const api = loadKubeConfig().makeApiClient(CoordinationV1Api);
    const now = await api.readNamespacedLease({ name: 'deployguard-leader', namespace: ns });
    expect(now.spec?.holderIdentity).to.equal('replica-a');
    // client-node 2.0.1 hands MicroTime back unparsed (a string, despite its Date type).
    expect(new Date(String(now.spec?.renewTime as unknown)).getTime()).to.equal(t1.getTime());
  });

  it('rejects Lease times serialised with milliseconds (client-node typed API pitfall)', async () => {
    // Pins the behaviour that shapes how the operator must write Leases; if a client-node
    // upgrade starts sending MicroTime correctly, this test fails and the workaround can go.
    const namespace = await freshNamespace('dg-lease');
    const api = loadKubeConfig().makeApiClient(CoordinationV1Api);
    const err = await api
      .createNamespacedLease({
        namespace,
        body: { metadata: { name: 'x' }, spec: { holderIdentity: 'a', renewTime: new Date() } },
      })
      .then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
    expect(err?.code).to.equal(400);
    expect(String(err?.body)).to.include('cannot parse');
  });
});
