// A policy's life as the operator sees it, end to end on the real control plane: created after
// the pods it judges, changed so a pod stops violating, deleted; a policy the API server accepts
// but the engine can't use; an operator restart that must neither repeat nor forget what was
// done; and PolicyReports when their CRD is installed.
import { expect } from 'chai';
import { join } from 'node:path';
import { freshNamespace, kubectl, repoRoot, waitFor } from '../cluster.ts';
import { OperatorProcess, applyPolicy, operatorAccount, operatorTest } from './harness.ts';
import {
  BASELINE,
  DETECTED_AT,
  PRIVILEGED,
  REPORTER,
  VIOLATING,
  VIOLATIONS,
  about,
  annotated,
  create,
  events,
  get,
  getPolicy,
  pod,
  policyStatus,
  printLogOnFailure,
  readSettled,
  sleep,
  start,
  waitForEvents,
  waitForStatus,
  type EventJson,
  type PodJson,
  type PolicyJson,
} from './objects.ts';

function ready(
  p: PolicyJson | undefined,
): { status: string; reason: string; message: string } | undefined {
  return p?.status?.conditions?.find((c) => c.type === 'Ready');
}

async function unannotated(ns: string, name: string): Promise<PodJson> {
  return waitFor(
    `${ns}/${name} without our annotations`,
    async () => {
      const p = await get<PodJson>('pod', name, ns);
      const a = p?.metadata.annotations ?? {};
      const l = p?.metadata.labels ?? {};
      return p && !(VIOLATIONS in a) && !(DETECTED_AT in a) && !(VIOLATING in l) ? p : undefined;
    },
    20_000,
  );
}

describe('operator: policy lifecycle', function () {
  this.timeout(120_000);
  afterEach(printLogOnFailure);

  operatorTest(
    'judges existing pods when a policy appears, and clears its marks when the policy changes or goes',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-life');
      const name = `life-${ns}`;
      const op = await start(own);

      // No policy: a privileged pod is seen (scheduled, so the operator got its events) and left alone.
      await create(ns, pod('priv', PRIVILEGED));
      await waitFor(
        'pod scheduled',
        async () => (await get<PodJson>('pod', 'priv', ns))?.spec.nodeName,
      );
      await sleep(1500);
      const untouched = await get<PodJson>('pod', 'priv', ns);
      expect(untouched?.metadata.annotations ?? {}).to.not.have.any.keys(VIOLATIONS, DETECTED_AT);
      expect(untouched?.metadata.labels ?? {}).to.not.have.any.keys(VIOLATING);
      expect(await events(ns, { reason: 'PolicyViolation' })).to.have.length(0);

      // An Audit policy created afterwards judges the pod that was already there.
      const spec = {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: BASELINE,
      };
      await applyPolicy(own, name, spec);
      const marked = await annotated(ns, 'priv');
      expect(marked.metadata.annotations?.[VIOLATIONS]).to.equal(
        `[{"policy":"${name}","rule":"pss.privileged","severity":"critical"}]`,
      );
      expect(marked.metadata.labels?.[VIOLATING]).to.equal('true');
      await waitForStatus(name, (s) => s.violatingPods === 1 && s.totalViolations === 1, 15_000);

      // The policy now exempts the pod's image: annotations and label go, status follows.
      await applyPolicy(own, name, { ...spec, exclude: { images: ['registry.example.com/*'] } });
      await unannotated(ns, 'priv');
      await waitFor(
        'status: no violating pod, generation 2 observed',
        async () => {
          const p = await getPolicy(name);
          return (
            p?.status?.violatingPods === 0 && p.status.observedGeneration === p.metadata.generation
          );
        },
        15_000,
      );

      // Violating again (exemption removed) is a new detection; then deleting the policy clears it.
      await applyPolicy(own, name, spec);
      await annotated(ns, 'priv');
      await waitForStatus(name, (s) => s.violatingPods === 1 && s.totalViolations === 2, 15_000);
      await kubectl(['delete', 'containerdeploymentpolicy', name]);
      await unannotated(ns, 'priv');
      await op.waitForLog((l) => l.msg === 'policy deleted' && l.policy === name);
      await waitFor(
        'violating_pods gauge of the deleted policy at 0',
        async () => (await op.metric('deployguard_violating_pods', { policy: name })) === 0,
        15_000,
      );
      // Nothing went wrong judging or acting (a transient periodic-task or status-write error
      // under load is retried and not what this test is about).
      expect(
        op
          .errors()
          .filter((l) =>
            /could not be evaluated|unhandled|action failed|threw|policy invalid/.test(l.msg),
          ),
      ).to.deep.equal([]);
    },
  );

  operatorTest(
    'marks a policy the engine cannot use Ready=False and keeps the others working',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-inv');
      const good = `good-${ns}`;
      const bad = `bad-${ns}`;
      await applyPolicy(own, good, {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: BASELINE,
      });
      const op = await start(own);
      // Accepted by the CRD (checked with a server dry run), refused by RE2 in the engine.
      const badSpec = {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: { commands: { deniedPatterns: ['(a)\\1'] } },
      };
      await applyPolicy(own, bad, badSpec);

      const invalid = await waitFor(
        'bad policy Ready=False',
        async () => {
          const p = await getPolicy(bad);
          return ready(p)?.status === 'False' ? p : undefined;
        },
        15_000,
      );
      expect(ready(invalid)?.reason).to.equal('InvalidSpec');
      expect(ready(invalid)?.message).to.contain('spec.rules.commands.deniedPatterns[0]');
      expect(invalid.status?.observedGeneration).to.equal(invalid.metadata.generation);

      const ev = await waitForEvents('default', about(bad, 'PolicyInvalid'), 1, 10_000);
      expect(ev).to.have.length(1);
      expect(ev[0]?.type).to.equal('Warning');
      expect(ev[0]?.involvedObject.kind).to.equal('ContainerDeploymentPolicy');
      expect(ev[0]?.message).to.contain('spec.rules.commands.deniedPatterns[0]');
      expect(await op.metric('deployguard_policies', { ready: 'false' })).to.equal(1);
      expect(await op.metric('deployguard_policies', { ready: 'true', mode: 'Audit' })).to.equal(1);

      // The valid policy keeps working; the invalid one contributes nothing.
      await create(ns, pod('priv', { ...PRIVILEGED, command: ['sh', '-c', 'aa'] }));
      const marked = await annotated(ns, 'priv');
      expect(marked.metadata.annotations?.[VIOLATIONS]).to.equal(
        `[{"policy":"${good}","rule":"pss.privileged","severity":"critical"}]`,
      );
      const accepted = await waitFor(
        'good policy Ready=True',
        async () => {
          const p = await getPolicy(good);
          return ready(p)?.status === 'True' && p?.status?.violatingPods === 1 ? p : undefined;
        },
        15_000,
      );
      expect(ready(accepted)?.reason).to.equal('Accepted');
      expect(accepted.status?.observedGeneration).to.equal(accepted.metadata.generation);

      // Fixing the invalid policy brings it into effect: Ready=True, and the pod gets its finding.
      await applyPolicy(own, bad, {
        ...badSpec,
        rules: { commands: { deniedPatterns: ['a(a)'] } },
      });
      await waitFor(
        'both policies on the pod',
        async () => {
          const v =
            (await get<PodJson>('pod', 'priv', ns))?.metadata.annotations?.[VIOLATIONS] ?? '';
          return v.includes(`"policy":"${bad}","rule":"command.denied"`) && v.includes(good);
        },
        15_000,
      );
      const fixed = await waitFor(
        'fixed policy Ready=True',
        async () => {
          const p = await getPolicy(bad);
          return ready(p)?.status === 'True' ? p : undefined;
        },
        15_000,
      );
      expect(ready(fixed)?.reason).to.equal('Accepted');
      expect(fixed.status?.observedGeneration).to.equal(2);
      expect(await op.metric('deployguard_policies', { ready: 'false' })).to.equal(0);
      // One PolicyInvalid event for the one invalid generation.
      expect(await events('default', about(bad, 'PolicyInvalid'))).to.have.length(1);
    },
  );

  operatorTest(
    'after a restart repeats no action, event or write, and keeps its counters',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-restart');
      const name = `restart-${ns}`;
      await applyPolicy(own, name, {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        rules: { ...BASELINE, images: { disallowLatestTag: true } },
        actions: [
          { type: 'Label', labels: { quarantine: 'true' } },
          { type: 'DeletePod', minSeverity: 'high', gracePeriodSeconds: 0 },
        ],
      });
      const kubeconfig = await operatorAccount(own);
      const first = await OperatorProcess.start({ namespace: own, kubeconfig, name: 'first' });

      // Critical: labelled, then deleted. Low (untagged image): labelled only, stays.
      await create(ns, pod('priv', PRIVILEGED));
      await create(ns, pod('untagged', { image: 'registry.example.com/app' }));
      await waitFor(
        'priv deleted',
        async () => (await get<PodJson>('pod', 'priv', ns)) === undefined,
        20_000,
      );
      // Labelled by us and marked Running by kwok: nobody else has a reason to write it any more.
      await waitFor(
        'untagged labelled and Running',
        async () => {
          const p = await get<PodJson>('pod', 'untagged', ns);
          return (
            p?.metadata.labels?.quarantine === 'true' &&
            p.metadata.annotations?.[VIOLATIONS] &&
            p.status?.phase === 'Running'
          );
        },
        20_000,
      );
      const counters = await waitForStatus(
        name,
        (s) => s.totalViolations === 2 && s.actions?.Label === 2 && s.actions.DeletePod === 1,
        15_000,
      );
      const untaggedPath = `/namespaces/${ns}/pods/untagged`;
      const rv = (await get<PodJson>('pod', 'untagged', ns))?.metadata.resourceVersion;
      const byReason = (list: EventJson[], pod: string): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const e of list.filter(
          (x) => x.involvedObject.name === pod && x.reportingComponent === REPORTER,
        ))
          out[e.reason] = (out[e.reason] ?? 0) + (e.count ?? 1);
        return out;
      };
      // Events are sent without the reconcile waiting: wait for all of them, then check exactly.
      const expected = (list: EventJson[]): boolean =>
        Object.keys(byReason(list, 'priv')).length === 3 &&
        Object.keys(byReason(list, 'untagged')).length === 2;
      const before = await readSettled(
        'the Events of priv and untagged',
        () => events(ns),
        expected,
      );
      expect(byReason(before, 'priv')).to.deep.equal({
        PolicyViolation: 1,
        PodLabeled: 1,
        PodDeleted: 1,
      });
      expect(byReason(before, 'untagged')).to.deep.equal({ PolicyViolation: 1, PodLabeled: 1 });

      expect(await first.stop()).to.equal(0);
      expect(first.logs.some((l) => l.msg === 'deployguard stopped')).to.equal(true);

      const second = await OperatorProcess.start({ namespace: own, kubeconfig, name: 'second' });
      // Positive signal that the new process works: a pod created now is labelled and counted.
      await create(ns, pod('fresh', { image: 'registry.example.com/app:latest' }));
      await waitFor(
        'fresh labelled',
        async () => {
          const p = await get<PodJson>('pod', 'fresh', ns);
          return p?.metadata.labels?.quarantine === 'true';
        },
        20_000,
      );
      const after = await waitForStatus(
        name,
        (s) => s.totalViolations !== counters.totalViolations,
        15_000,
      );
      await waitFor(
        'the Events of fresh',
        async () => Object.keys(byReason(await events(ns), 'fresh')).length === 2,
        20_000,
      );
      await sleep(2500);
      const final = await policyStatus(name);
      expect(final?.totalViolations).to.equal(3);
      expect(final?.actions).to.include({ Label: 3, DeletePod: 1 });
      expect(after.totalViolations).to.equal(3);

      expect(second.writes(untaggedPath), 'second wrote to untagged').to.deep.equal([]);
      expect((await get<PodJson>('pod', 'untagged', ns))?.metadata.resourceVersion).to.equal(rv);
      const now = await events(ns);
      expect(byReason(now, 'priv')).to.deep.equal(byReason(before, 'priv'));
      expect(byReason(now, 'untagged')).to.deep.equal(byReason(before, 'untagged'));
      expect(byReason(now, 'fresh')).to.deep.equal({ PolicyViolation: 1, PodLabeled: 1 });
      expect(await second.metric('deployguard_actions_total', { outcome: 'success' })).to.equal(1);
      expect(await second.metric('deployguard_violations_total', { namespace: ns })).to.equal(1);
      expect(
        second.logs
          .filter((l) => l.msg === 'action taken' || l.msg === 'policy violation')
          .map((l) => l.pod),
      ).to.deep.equal([`${ns}/fresh`, `${ns}/fresh`]);
    },
  );

  operatorTest(
    'writes a PolicyReport per namespace while the PolicyReport CRD is installed',
    async () => {
      const crd = join(repoRoot, 'test', 'fixtures', 'policyreport-crd.yaml');
      let op: OperatorProcess | undefined;
      try {
        await kubectl(['apply', '-f', crd]);
        await kubectl(['wait', '--for=condition=Established', '--timeout=30s', '-f', crd]);
        // The operator probes discovery when it starts leading: the group must be served by then.
        await waitFor(
          'wgpolicyk8s.io served',
          async () => {
            const r = await kubectl(['get', '--raw', '/apis/wgpolicyk8s.io/v1alpha2'], {
              allowFail: true,
            });
            return r.code === 0 && r.stdout.includes('"policyreports"');
          },
          15_000,
        );
        const own = await freshNamespace('dg-op');
        const ns = await freshNamespace('dg-report');
        const name = `report-${ns}`;
        await applyPolicy(own, name, {
          mode: 'Audit',
          match: { namespaces: [ns] },
          rules: BASELINE,
        });
        op = await start(own);
        const leading = await op.waitForLog(
          (l) => l.msg === 'leading: caches synced, workers started',
        );
        expect(leading.policyReports).to.equal(true);

        await create(ns, pod('priv', PRIVILEGED));
        const report = await waitFor(
          'PolicyReport written',
          async () => {
            const r = await kubectl(
              ['get', 'policyreports.wgpolicyk8s.io', 'deployguard', '-n', ns, '-o', 'json'],
              {
                allowFail: true,
              },
            );
            return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
          },
          20_000,
        );
        const results = report.results as Record<string, unknown>[];
        expect(results).to.have.length(1);
        const r0 = results[0] as Record<string, unknown>;
        expect(r0).to.include({
          result: 'fail',
          policy: name,
          rule: 'pss.privileged',
          severity: 'critical',
          source: 'deployguard',
        });
        expect((r0.resources as Record<string, unknown>[])[0]).to.include({
          kind: 'Pod',
          name: 'priv',
          namespace: ns,
        });
        expect((r0.properties as Record<string, string>).techniques).to.contain('T1610');
        expect(report.summary).to.include({ fail: 1 });

        await kubectl(['delete', 'pod', 'priv', '-n', ns, '--grace-period=0', '--force'], {
          allowFail: true,
        });
        await waitFor(
          'PolicyReport deleted',
          async () => {
            const r = await kubectl([
              'get',
              'policyreports.wgpolicyk8s.io',
              '-n',
              ns,
              '-o',
              'name',
            ]);
            return r.stdout.trim() === '';
          },
          20_000,
        );
        expect(op.logs.filter((l) => l.msg === 'could not write a PolicyReport')).to.deep.equal([]);
      } finally {
        // Stop the operator before the CRD goes, so it never sees the resource vanish mid-write.
        await op?.stop();
        await kubectl(['delete', '-f', crd, '--ignore-not-found', '--wait=true', '--timeout=30s'], {
          allowFail: true,
        });
      }
    },
  );
});
