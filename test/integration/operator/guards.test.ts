// The guards of docs/api.md section 1, end to end on the real control plane (real ReplicaSet,
// disruption and node controllers): a remediation must never make an incident worse. A Deployment
// that recreates what we delete stops being deleted after 3 rounds and is reported on the
// Deployment; the per-policy rate limit opens a breaker; owner kinds we are told to leave alone
// are left alone; evictions honour PodDisruptionBudgets; cordoning stops at the cluster share.
import { expect } from 'chai';
import { freshNamespace, waitFor } from '../cluster.ts';
import { applyPolicy, operatorTest } from './harness.ts';
import {
  BASELINE,
  PRIVILEGED,
  REPORTER,
  about,
  create,
  deployment,
  events,
  get,
  list,
  pod,
  printLogOnFailure,
  readSettled,
  releaseNodes,
  sleep,
  start,
  waitForEvents,
  waitForStatus,
  type Meta,
  type NodeJson,
  type PodJson,
} from './objects.ts';

/** Pods of the namespace (optionally by label selector), terminating ones left out. */
async function pods(ns: string, selector?: string): Promise<PodJson[]> {
  return (await list<PodJson>('pods', ns, selector)).filter((p) => !p.metadata.deletionTimestamp);
}

const uids = (l: { metadata: Meta }[]): string[] => l.map((p) => p.metadata.uid).sort();

describe('operator: guards', function () {
  this.timeout(120_000);
  afterEach(printLogOnFailure);

  operatorTest(
    'stops deleting the pods of a Deployment that keeps recreating them after 3, and reports the Deployment',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-loop');
      const policy = `loop-${ns}`;
      await applyPolicy(own, policy, {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        rules: BASELINE,
        actions: [{ type: 'DeletePod', gracePeriodSeconds: 0 }],
        guards: { maxActionsPerMinute: 100 },
      });
      const op = await start(own);
      await create(ns, deployment('loop', 1, PRIVILEGED));

      const loop = await waitForEvents(ns, { reason: 'RemediationLoop' });
      expect(loop).to.have.length(1);
      expect(loop[0]?.involvedObject).to.include({ kind: 'Deployment', name: 'loop' });
      expect(loop[0]).to.include({ type: 'Warning', reportingComponent: REPORTER });
      await op.waitForLog((l) => l.guard === 'loop' && l.action === 'DeletePod');

      // The survivor: the ReplicaSet's 4th pod, left alone from now on.
      const survivor = await waitFor('one pod left alone', async () => {
        const l = await pods(ns, 'app=loop');
        return l.length === 1 ? l : undefined;
      });
      const skipped = await waitForEvents(
        ns,
        about(survivor[0]?.metadata.name ?? '', 'ActionSkipped'),
      );
      expect(skipped[0]?.message).to.contain('keeps recreating');
      const deleted = async (): Promise<number> =>
        op.metric('deployguard_actions_total', { policy, action: 'DeletePod', outcome: 'success' });
      expect(await deleted()).to.equal(3);
      const status = await waitForStatus(policy, (s) => (s.loopingWorkloads ?? []).length > 0);
      expect(status.loopingWorkloads).to.deep.equal([
        { kind: 'Deployment', namespace: ns, name: 'loop' },
      ]);
      expect(status.actions?.DeletePod).to.equal(3);

      await sleep(3000);
      expect(uids(await pods(ns, 'app=loop')), 'the pod count is stable').to.deep.equal(
        uids(survivor),
      );
      expect(await deleted()).to.equal(3);
      // Events are sent without the reconcile waiting for them: all three first, then exactly three.
      const podDeleted = await readSettled(
        'three PodDeleted events',
        () => events(ns, { reason: 'PodDeleted' }),
        (l) => l.length >= 3,
      );
      expect(podDeleted).to.have.length(3);
      expect(await events(ns, { reason: 'RemediationLoop' })).to.have.length(1);
      expect(
        await op.metric('deployguard_actions_total', {
          policy,
          action: 'DeletePod',
          outcome: 'skipped',
        }),
      ).to.equal(1);
    },
  );

  operatorTest('opens the breaker past maxActionsPerMinute and skips the rest', async () => {
    const own = await freshNamespace('dg-op');
    // One pod in each of five namespaces: no namespace uses more than its share (1 of 2), so
    // only the policy's cluster-wide budget decides.
    const spaces = await Promise.all([1, 2, 3, 4, 5].map(() => freshNamespace('dg-breaker')));
    const policy = `breaker-${own}`;
    await applyPolicy(own, policy, {
      mode: 'Enforce',
      match: { namespaces: spaces },
      rules: BASELINE,
      actions: [{ type: 'Label', labels: { quarantine: 'true' } }],
      guards: { maxActionsPerMinute: 2 },
    });
    const op = await start(own);
    for (const ns of spaces) await create(ns, pod('burst', PRIVILEGED));

    const outcome = (o: string): Promise<number> =>
      op.metric('deployguard_actions_total', { policy, action: 'Label', outcome: o });
    await waitFor('5 Label decisions', async () =>
      (await outcome('success')) + (await outcome('skipped')) >= 5 ? true : undefined,
    );
    const skipped = (
      await Promise.all(spaces.map((ns) => events(ns, { reason: 'ActionSkipped' })))
    ).flat();
    expect(skipped).to.have.length(3);
    for (const e of skipped) expect(e.message).to.contain('breaker open: more than');
    await op.waitForLog((l) => l.guard === 'breaker');
    const status = await waitForStatus(policy, (s) => s.breaker === 'Open');
    expect(status.actions?.Label).to.equal(2);
    await waitFor('breaker_open gauge', async () =>
      (await op.metric('deployguard_breaker_open', { policy })) === 1 ? true : undefined,
    );

    await sleep(1500);
    const labelled = (await Promise.all(spaces.map((ns) => pods(ns, 'quarantine=true')))).flat();
    expect(labelled).to.have.length(2);
    expect(await outcome('success')).to.equal(2);
    expect(await outcome('skipped')).to.be.at.least(3);
  });

  operatorTest(
    "one tenant's flood throttles only that tenant: another namespace's pod is remediated at once",
    async () => {
      const own = await freshNamespace('dg-op');
      const flood = await freshNamespace('dg-flood');
      const other = await freshNamespace('dg-victim');
      const policy = `share-${own}`;
      await applyPolicy(own, policy, {
        mode: 'Enforce',
        match: { namespaces: [flood, other] },
        rules: BASELINE,
        actions: [{ type: 'Label', labels: { quarantine: 'true' } }],
        guards: { maxActionsPerMinute: 8 }, // a namespace's share: 2
      });
      const op = await start(own);
      // The tenant floods its own namespace with violating pods.
      await create(flood, ...Array.from({ length: 12 }, (_, i) => pod(`flood-${i}`, PRIVILEGED)));
      await waitFor('the flooding namespace throttled', async () =>
        (await op.metric('deployguard_namespace_breaker_open', { policy, namespace: flood })) === 1
          ? true
          : undefined,
      );
      await create(other, pod('victim', PRIVILEGED));
      // Well within the minute a shared breaker would have held it back.
      await waitFor(
        'the other namespace labelled while the flood is throttled',
        async () => ((await pods(other, 'quarantine=true')).length === 1 ? true : undefined),
        20_000,
      );
      expect(await pods(flood, 'quarantine=true')).to.have.length(2);
      const status = await waitForStatus(policy, (s) => (s.throttledNamespaces ?? []).length > 0);
      expect(status.throttledNamespaces).to.deep.equal([flood]);
      expect(status.breaker).to.equal('Closed');
      const skipped = await waitForEvents(flood, { reason: 'ActionSkipped' });
      expect(skipped[0]?.message).to.contain(`breaker open for namespace ${flood}`);
    },
  );

  operatorTest('does not delete pods whose owner kind is in ignoreOwnerKinds', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-owner');
    const policy = `owner-${ns}`;
    await applyPolicy(own, policy, {
      mode: 'Enforce',
      match: { namespaces: [ns] },
      rules: BASELINE,
      actions: [{ type: 'DeletePod', gracePeriodSeconds: 0 }],
      // A Deployment's pods are owned by its ReplicaSet: that is the kind the guard sees.
      guards: { ignoreOwnerKinds: ['ReplicaSet'] },
    });
    const op = await start(own);
    await create(ns, deployment('web', 2, PRIVILEGED), pod('loner', PRIVILEGED));

    // The control: the same policy deletes a bare pod.
    await waitForEvents(ns, about('loner', 'PodDeleted'));
    const skipped = await waitForEvents(ns, { reason: 'ActionSkipped' }, 2);
    for (const e of skipped) expect(e.message).to.contain('ignoreOwnerKinds');
    const web = await pods(ns, 'app=web');
    expect(uids(web)).to.deep.equal(skipped.map((e) => e.involvedObject.uid).sort());
    const count = (o: string): Promise<number> =>
      op.metric('deployguard_actions_total', { policy, action: 'DeletePod', outcome: o });
    expect(await count('skipped')).to.equal(2);

    await sleep(1500);
    expect(uids(await pods(ns, 'app=web'))).to.deep.equal(uids(web));
    expect(await count('success')).to.equal(1);
    expect(await count('skipped')).to.equal(2);
    expect(await events(ns, { reason: 'PodDeleted' })).to.have.length(1);
  });

  operatorTest('evict: true honours a PodDisruptionBudget that forbids the eviction', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-pdb');
    const policy = `pdb-${ns}`;
    await create(ns, deployment('web', 2, PRIVILEGED), {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web' },
      spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
    });
    // Pending pods are outside any budget (the API server evicts them regardless): wait until
    // both are Ready and the disruption controller has counted them, so the budget really binds.
    await waitFor('PDB counts 2 healthy pods', async () => {
      const pdb = await get<{
        metadata: { generation: number };
        status?: { observedGeneration?: number; currentHealthy?: number };
      }>('pdb', 'web', ns);
      return pdb?.status?.observedGeneration === pdb?.metadata.generation &&
        pdb?.status?.currentHealthy === 2
        ? true
        : undefined;
    });
    const web = await pods(ns, 'app=web');
    await applyPolicy(own, policy, {
      mode: 'Enforce',
      match: { namespaces: [ns] },
      rules: BASELINE,
      actions: [{ type: 'DeletePod', evict: true, gracePeriodSeconds: 0 }],
    });
    const op = await start(own);
    // The control: a pod no budget covers is evicted.
    await create(ns, pod('loner', PRIVILEGED));
    const evicted = await waitForEvents(ns, { reason: 'PodEvicted' });
    expect(evicted.map((e) => e.involvedObject.name)).to.deep.equal(['loner']);
    await waitFor('loner gone', async () => (await get('pod', 'loner', ns)) === undefined);

    const refused = await waitForEvents(ns, { reason: 'ActionSkipped' }, 2);
    expect(refused.map((e) => e.involvedObject.uid).sort()).to.deep.equal(uids(web));
    for (const e of refused) {
      expect(e.type).to.equal('Warning');
      expect(e.message).to.contain('eviction');
    }
    const count = (o: string): Promise<number> =>
      op.metric('deployguard_actions_total', { policy, action: 'DeletePod', outcome: o });
    // Each refusal is counted; a refused eviction is retried after its back-off
    // (EVICTION_RETRY_MS, 30 s) and counted again, so on a slow run there may be more.
    expect(await count('skipped'), 'refused evictions counted').to.be.at.least(2);

    await sleep(2000);
    expect(uids(await pods(ns, 'app=web')), 'a pod the budget protects was removed').to.deep.equal(
      uids(web),
    );
    // One ActionSkipped Event per pod: a retry's refusal repeats it (count), it adds no other.
    const refusedAgain = await events(ns, { reason: 'ActionSkipped' });
    expect(refusedAgain.map((e) => e.involvedObject.uid).sort()).to.deep.equal(uids(web));
    expect(await count('success')).to.equal(1);
    expect(await events(ns, { reason: 'PodEvicted' })).to.have.length(1);
    const status = await waitForStatus(policy, (s) => s.actions?.DeletePod === 1);
    expect(status.totalActions).to.equal(1);
  });

  operatorTest('cordons no more than maxCordonedNodesPercent of the nodes', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-cap');
    const policy = `cap-${ns}`;
    const nodes = await list<NodeJson>('nodes');
    expect(nodes, 'the test cluster has 4 nodes').to.have.length(4);
    const cordoned = nodes.filter((n) => n.spec.unschedulable).map((n) => n.metadata.name);
    expect(cordoned, 'nodes left cordoned by another test').to.deep.equal([]);
    try {
      await applyPolicy(own, policy, {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        rules: BASELINE,
        actions: [{ type: 'CordonNode', minSeverity: 'critical' }],
        // 1 of 4 nodes is 25%: allowed; 2 of 4 would be 50%.
        guards: { maxCordonedNodesPercent: 25 },
      });
      const op = await start(own);
      // Placed by the scheduler (a node the pod's creator chose is no evidence against it).
      await create(ns, pod('first', PRIVILEGED));
      const first = await waitFor('first placed and running', async () => {
        const p = await get<PodJson>('pod', 'first', ns);
        return p?.status?.phase === 'Running' ? p.spec.nodeName : undefined;
      });
      await waitFor(`${first} cordoned`, async () =>
        (await get<NodeJson>('node', first ?? ''))?.spec.unschedulable ? true : undefined,
      );
      // The scheduler puts the second one on another worker: the first is cordoned now.
      await create(ns, pod('second', PRIVILEGED));
      const second = await waitFor('second placed and running', async () => {
        const p = await get<PodJson>('pod', 'second', ns);
        return p?.status?.phase === 'Running' ? p.spec.nodeName : undefined;
      });
      expect(second).to.not.equal(first);
      const skipped = await waitForEvents(ns, about('second', 'ActionSkipped'));
      expect(skipped).to.have.length(1);
      expect(skipped[0]?.message).to.contain('maxCordonedNodesPercent (25%)');
      await op.waitForLog((l) => l.guard === 'cordonCap');

      await sleep(1000);
      expect((await get<NodeJson>('node', second ?? ''))?.spec.unschedulable ?? false).to.equal(
        false,
      );
      const count = (o: string): Promise<number> =>
        op.metric('deployguard_actions_total', { policy, action: 'CordonNode', outcome: o });
      expect(await count('success')).to.equal(1);
      expect(await count('skipped')).to.equal(1);
    } finally {
      await releaseNodes(policy);
    }
  });
});
