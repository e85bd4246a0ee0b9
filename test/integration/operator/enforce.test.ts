// Audit versus Enforce on the real control plane, action by action: exactly the writes docs/api.md
// section 4 names (labels, NetworkPolicy, deletion, cordon, Events, status, metrics) and nothing
// else; minSeverity, excluded and protected namespaces, the control-plane node and --dry-run
// stop what they should; a pod that dies at once is still recorded; /metrics carries every series
// of docs/api.md section 5 with bounded labels.
import { expect } from 'chai';
import { freshNamespace, kubectl, waitFor } from '../cluster.ts';
import { applyPolicy, metricValue, operatorTest } from './harness.ts';
import {
  BASELINE,
  CORDONED_AT,
  CORDONED_BY,
  DETECTED_AT,
  ISOLATED,
  PRIVILEGED,
  REPORTER,
  REVERSE_SHELL,
  RFC3339,
  VIOLATING,
  VIOLATIONS,
  about,
  annotated,
  create,
  events,
  get,
  list,
  pod,
  policyStatus,
  printLogOnFailure,
  readSettled,
  releaseNodes,
  schedulableWorkers,
  sleep,
  start,
  waitForEvents,
  waitForStatus,
  type EventJson,
  type Meta,
  type NodeJson,
  type PodJson,
} from './objects.ts';

interface NetworkPolicyJson {
  metadata: Meta;
  spec: Record<string, unknown>;
}

const ours = (m: Meta): string[] => [
  ...Object.keys(m.annotations ?? {}).filter((k) => k.startsWith('deployguard.dev/')),
  ...Object.keys(m.labels ?? {}).filter((k) => k.startsWith('deployguard.dev/')),
];

describe('operator: Enforce actions', function () {
  this.timeout(120_000);
  afterEach(printLogOnFailure);

  operatorTest(
    'Enforce labels and isolates with exactly the writes docs/api.md names; Audit with the same spec only records',
    async () => {
      const own = await freshNamespace('dg-op');
      const enf = await freshNamespace('dg-enf');
      const aud = await freshNamespace('dg-aud');
      const spec = (mode: string, ns: string): Record<string, unknown> => ({
        mode,
        match: { namespaces: [ns] },
        rules: { ...BASELINE, indicators: { enabled: true } },
        actions: [{ type: 'Label', labels: { quarantine: 'true' } }, { type: 'Isolate' }],
      });
      const enforce = `enforce-${enf}`;
      const audit = `audit-${aud}`;
      await applyPolicy(own, enforce, spec('Enforce', enf));
      await applyPolicy(own, audit, spec('Audit', aud));
      const op = await start(own);
      const [shell] = await create(enf, pod('shell', REVERSE_SHELL), pod('benign', {}));
      await create(aud, pod('shell', REVERSE_SHELL));
      const uid = shell?.metadata.uid ?? '';

      // Enforce: both actions ran.
      const acted = await waitFor('quarantine and isolation labels', async () => {
        const p = await get<PodJson>('pod', 'shell', enf);
        const l = p?.metadata.labels ?? {};
        return l.quarantine === 'true' && l[ISOLATED] ? p : undefined;
      });
      expect(acted.metadata.labels).to.include({
        quarantine: 'true',
        [ISOLATED]: uid,
        [VIOLATING]: 'true',
      });
      expect(acted.metadata.annotations?.[VIOLATIONS]).to.equal(
        `[{"policy":"${enforce}","rule":"indicator.reverseShell","severity":"critical"}]`,
      );
      const nps = await list<NetworkPolicyJson>('networkpolicies', enf);
      expect(nps.map((n) => n.metadata.name)).to.deep.equal([`deployguard-isolate-${uid}`]);
      // Deny all: both policy types, no rules at all.
      expect(nps[0]?.spec).to.deep.equal({
        podSelector: { matchLabels: { [ISOLATED]: uid } },
        policyTypes: ['Ingress', 'Egress'],
      });
      expect(nps[0]?.metadata.ownerReferences).to.have.length(1);
      expect(nps[0]?.metadata.ownerReferences?.[0]).to.include({
        apiVersion: 'v1',
        kind: 'Pod',
        name: 'shell',
        uid,
      });
      for (const [reason, type] of [
        ['PodLabeled', 'Normal'],
        ['PodIsolated', 'Warning'],
      ] as const) {
        const ev = await waitForEvents(enf, about('shell', reason));
        expect(ev, reason).to.have.length(1);
        expect(ev[0]).to.include({ type, reportingComponent: REPORTER });
        expect(ev[0]?.involvedObject.uid).to.equal(uid);
        expect(ev[0]?.message).to.contain('indicator.reverseShell');
      }
      for (const action of ['Label', 'Isolate'])
        expect(
          await op.metric('deployguard_actions_total', {
            policy: enforce,
            action,
            outcome: 'success',
          }),
          action,
        ).to.equal(1);
      const status = await waitForStatus(enforce, (s) => s.totalActions === 2);
      expect(status.actions).to.deep.equal({ Label: 1, Isolate: 1, DeletePod: 0, CordonNode: 0 });
      expect(status.totalViolations).to.equal(1);

      // Audit: recorded exactly like Enforce records, and nothing more.
      const recorded = await annotated(aud, 'shell', 60_000);
      expect(recorded.metadata.annotations?.[VIOLATIONS]).to.equal(
        `[{"policy":"${audit}","rule":"indicator.reverseShell","severity":"critical"}]`,
      );
      expect(recorded.metadata.annotations?.[DETECTED_AT]).to.match(RFC3339);
      expect(await waitForEvents(aud, about('shell', 'PolicyViolation'))).to.have.length(1);
      const auditStatus = await waitForStatus(audit, (s) => s.totalViolations === 1);

      // Nothing more happens once settled: no second action, no second NetworkPolicy.
      await sleep(1500);
      const audited = await get<PodJson>('pod', 'shell', aud);
      expect(audited?.metadata.labels ?? {}).to.deep.equal({ [VIOLATING]: 'true' });
      expect(await list('networkpolicies', aud)).to.have.length(0);
      for (const reason of ['PodLabeled', 'PodIsolated', 'ActionSkipped'])
        expect(await events(aud, about('shell', reason)), reason).to.have.length(0);
      expect(await op.metric('deployguard_actions_total', { policy: audit })).to.equal(0);
      expect(auditStatus.totalActions ?? 0).to.equal(0);
      expect(Object.values(auditStatus.actions ?? {}).every((n) => n === 0)).to.equal(true);

      expect(await op.metric('deployguard_actions_total', { policy: enforce })).to.equal(2);
      expect(await list('networkpolicies', enf)).to.have.length(1);
      for (const reason of ['PodLabeled', 'PodIsolated'])
        expect(await events(enf, about('shell', reason)), reason).to.have.length(1);
      const benign = await get<PodJson>('pod', 'benign', enf);
      expect(benign && ours(benign.metadata)).to.deep.equal([]);
      expect(benign?.metadata.labels ?? {}).to.not.have.property('quarantine');
    },
  );

  operatorTest(
    'DeletePod deletes a pod at or above minSeverity and spares one below it',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-del');
      const policy = `delete-${ns}`;
      await applyPolicy(own, policy, {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        rules: { ...BASELINE, ownership: { denyBarePods: true } },
        actions: [{ type: 'DeletePod', minSeverity: 'high', gracePeriodSeconds: 0 }],
      });
      const op = await start(own);
      // priv: critical + medium; bare: only ownership.barePod (medium).
      const [priv] = await create(ns, pod('priv', PRIVILEGED), pod('bare', {}));

      await waitFor('priv deleted', async () => (await get('pod', 'priv', ns)) === undefined);
      // The Event is about the pod, and outlives it.
      const deleted = await waitForEvents(ns, about('priv', 'PodDeleted'));
      expect(deleted).to.have.length(1);
      expect(deleted[0]).to.include({ type: 'Warning', reportingComponent: REPORTER });
      expect(deleted[0]?.involvedObject.uid).to.equal(priv?.metadata.uid);
      expect(deleted[0]?.message).to.contain('pss.privileged');
      // Sent without the reconcile waiting for it: not necessarily there before PodDeleted.
      const announced = await readSettled(
        'the PolicyViolation event of priv',
        () => events(ns, about('priv', 'PolicyViolation')),
        (l) => l.length >= 1,
      );
      expect(announced).to.have.length(1);

      const bare = await annotated(ns, 'bare', 60_000);
      expect(bare.metadata.annotations?.[VIOLATIONS]).to.equal(
        `[{"policy":"${policy}","rule":"ownership.barePod","severity":"medium"}]`,
      );
      // Both in the condition: a flush may come between the deletion and bare's violation.
      const status = await waitForStatus(
        policy,
        (s) => s.actions?.DeletePod === 1 && s.totalViolations === 3,
      );
      expect(status.totalActions).to.equal(1);

      await sleep(1500);
      expect(await get('pod', 'bare', ns), 'bare pod (medium only) deleted').to.not.equal(
        undefined,
      );
      for (const reason of ['PodDeleted', 'ActionSkipped'])
        expect(await events(ns, about('bare', reason)), reason).to.have.length(0);
      const v = (rule: string): Promise<number> =>
        op.metric('deployguard_violations_total', { policy, rule, namespace: ns });
      expect(await v('pss.privileged')).to.equal(1);
      expect(await v('ownership.barePod')).to.equal(2);
      expect(
        await op.metric('deployguard_actions_total', {
          policy,
          action: 'DeletePod',
          outcome: 'success',
        }),
      ).to.equal(1);
      expect(await op.metric('deployguard_actions_total', { policy })).to.equal(1);
    },
  );

  operatorTest(
    'CordonNode cordons the worker an escaping pod runs on, never the control-plane node',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-cordon');
      const policy = `cordon-${ns}`;
      const workers = await schedulableWorkers();
      if (workers.length === 0)
        throw new Error('no schedulable kwok worker: another test left nodes cordoned');
      try {
        await applyPolicy(own, policy, {
          mode: 'Enforce',
          match: { namespaces: [ns] },
          rules: BASELINE,
          actions: [{ type: 'CordonNode', minSeverity: 'critical' }],
          guards: { maxCordonedNodesPercent: 50 },
        });
        const op = await start(own);
        // Placed by the scheduler: a node the creator chose (spec.nodeName) is no evidence.
        await create(ns, pod('escape', PRIVILEGED));
        const placedOn = await waitFor('escape placed and running', async () => {
          const p = await get<PodJson>('pod', 'escape', ns);
          return p?.status?.phase === 'Running' ? p.spec.nodeName : undefined;
        });
        expect(placedOn, 'placed on a schedulable worker').to.be.oneOf(workers);
        const node = await waitFor(`${placedOn} cordoned`, async () => {
          const n = await get<NodeJson>('node', placedOn ?? '');
          return n?.spec.unschedulable ? n : undefined;
        });
        expect(node.metadata.annotations?.[CORDONED_BY]).to.equal(`${policy}/${ns}/escape`);
        expect(node.metadata.annotations?.[CORDONED_AT]).to.match(RFC3339);
        // Events about a cluster-scoped object live in `default`.
        const cordoned = await waitFor('NodeCordoned event', async () => {
          const l = (
            await events('default', {
              'involvedObject.kind': 'Node',
              'involvedObject.name': placedOn ?? '',
              reason: 'NodeCordoned',
            })
          ).filter((e) => e.message.includes(policy));
          return l.length > 0 ? l : undefined;
        });
        expect(cordoned).to.have.length(1);
        expect(cordoned[0]).to.include({ type: 'Warning', reportingComponent: REPORTER });
        expect(cordoned[0]?.message).to.contain(`${ns}/escape`);

        await create(
          ns,
          pod('cp', PRIVILEGED, {
            nodeName: 'kwok-control-plane',
            tolerations: [
              {
                key: 'node-role.kubernetes.io/control-plane',
                operator: 'Exists',
                effect: 'NoSchedule',
              },
            ],
          }),
        );
        const skipped = await readSettled(
          'the ActionSkipped event of cp',
          () => events(ns, about('cp', 'ActionSkipped')),
          (l) => l.length >= 1,
        );
        expect(skipped).to.have.length(1);
        expect(skipped[0]?.message).to.contain('control-plane');
        await op.waitForLog((l) => l.guard === 'controlPlaneNode' && l.action === 'CordonNode');
        const cp = await get<NodeJson>('node', 'kwok-control-plane');
        expect(cp?.spec.unschedulable ?? false).to.equal(false);
        expect(cp?.metadata.annotations ?? {}).to.not.have.property(CORDONED_BY);

        const actions = (outcome: string): Promise<number> =>
          op.metric('deployguard_actions_total', { policy, action: 'CordonNode', outcome });
        expect(await actions('success')).to.equal(1);
        expect(await actions('skipped')).to.equal(1);
        const status = await waitForStatus(policy, (s) => s.actions?.CordonNode === 1);
        expect(status.totalActions).to.equal(1);
      } finally {
        await releaseNodes(policy);
      }
    },
  );

  operatorTest(
    'never judges a pod in an excluded namespace, and only reports in a protected one',
    async () => {
      const own = await freshNamespace('dg-op');
      const excluded = await freshNamespace('dg-excl');
      const protectedNs = await freshNamespace('dg-prot');
      const policy = `scope-${protectedNs}`;
      await applyPolicy(own, policy, {
        mode: 'Enforce',
        match: { namespaces: [excluded, protectedNs], excludeNamespaces: [excluded] },
        rules: BASELINE,
        actions: [
          { type: 'Label', labels: { quarantine: 'true' } },
          { type: 'DeletePod', gracePeriodSeconds: 0 },
        ],
        guards: { protectedNamespaces: [protectedNs] },
      });
      const op = await start(own);
      await create(excluded, pod('priv', PRIVILEGED));
      await create(protectedNs, pod('priv', PRIVILEGED));

      const recorded = await annotated(protectedNs, 'priv', 60_000);
      expect(recorded.metadata.labels?.[VIOLATING]).to.equal('true');
      expect(recorded.metadata.labels ?? {}).to.not.have.property('quarantine');
      const skipped = await waitForEvents(protectedNs, about('priv', 'ActionSkipped'), 2);
      expect(skipped.map((e) => e.message).sort()).to.satisfy((m: string[]) =>
        m.every((s) => s.includes(`namespace ${protectedNs} is protected`)),
      );
      expect(await op.metric('deployguard_actions_total', { policy, outcome: 'skipped' })).to.equal(
        2,
      );

      await sleep(1500);
      expect(await get('pod', 'priv', protectedNs), 'protected pod deleted').to.not.equal(
        undefined,
      );
      expect(await events(protectedNs, about('priv', 'ActionSkipped'))).to.have.length(2);
      expect(await op.metric('deployguard_actions_total', { policy, outcome: 'success' })).to.equal(
        0,
      );
      const untouched = await get<PodJson>('pod', 'priv', excluded);
      expect(untouched && ours(untouched.metadata)).to.deep.equal([]);
      expect(untouched?.metadata.labels ?? {}).to.not.have.property('quarantine');
      const ev = (await list<EventJson>('events', excluded)).filter(
        (e) => e.reportingComponent === REPORTER,
      );
      expect(ev).to.deep.equal([]);
      expect(await op.metric('deployguard_violations_total', { namespace: excluded })).to.equal(0);
    },
  );

  operatorTest('--dry-run writes nothing but Events, and counts dry_run', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-dry');
    const policy = `dry-${ns}`;
    await applyPolicy(own, policy, {
      mode: 'Enforce',
      match: { namespaces: [ns] },
      rules: BASELINE,
      actions: [{ type: 'DeletePod', gracePeriodSeconds: 0 }],
    });
    const op = await start(own, ['--dry-run']);
    await create(ns, pod('priv', PRIVILEGED));

    expect(await waitForEvents(ns, about('priv', 'PolicyViolation'))).to.have.length(1);
    const skipped = await waitForEvents(ns, about('priv', 'ActionSkipped'));
    expect(skipped).to.have.length(1);
    expect(skipped[0]?.message).to.match(/dry run/i);
    expect(
      await op.metric('deployguard_actions_total', {
        policy,
        action: 'DeletePod',
        outcome: 'dry_run',
      }),
    ).to.equal(1);
    // Longer than the status flush interval (1 s, at most once per 2 s per policy).
    await sleep(2500);
    const p = await get<PodJson>('pod', 'priv', ns);
    expect(p, 'pod deleted in a dry run').to.not.equal(undefined);
    expect(p && ours(p.metadata)).to.deep.equal([]);
    expect((await policyStatus(policy))?.totalViolations).to.equal(undefined);
    expect(await op.metric('deployguard_actions_total', { policy })).to.equal(1);
    expect(await op.metric('deployguard_violations_total', { policy })).to.equal(1);
  });

  operatorTest(
    'records a pod deleted right after creation, and /metrics has every docs/api.md series with bounded labels',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-ghost');
      const policy = `ghost-${ns}`;
      await applyPolicy(own, policy, {
        mode: 'Enforce',
        match: { namespaces: [ns] },
        rules: { ...BASELINE, indicators: { enabled: true } },
        actions: [{ type: 'Label', labels: { quarantine: 'true' } }],
      });
      const op = await start(own);
      const startedAt = Date.now() / 1000;
      const [live] = await create(ns, pod('live-attacker', PRIVILEGED));
      await waitForEvents(ns, about('live-attacker', 'PodLabeled'));

      // The operator sees the pod's creation and deletion only after both happened: an attacker's
      // pod that is gone before anyone could look at it.
      op.signal('SIGSTOP');
      let ghostUid: string;
      try {
        const [created] = await create(ns, pod('ghost-attacker', REVERSE_SHELL));
        ghostUid = created?.metadata.uid ?? '?';
        await kubectl(['delete', 'pod', 'ghost-attacker', '-n', ns, '--grace-period=0', '--force']);
      } finally {
        op.signal('SIGCONT');
      }
      const ghost = await waitForEvents(ns, about('ghost-attacker', 'PolicyViolation'));
      expect(ghost).to.have.length(1);
      expect(ghost[0]?.message).to.contain('indicator.reverseShell');
      expect(ghost[0]?.involvedObject.uid).to.equal(ghostUid);
      expect(
        await op.metric('deployguard_violations_total', {
          policy,
          rule: 'indicator.reverseShell',
          namespace: ns,
        }),
      ).to.equal(1);
      await waitFor('violating_pods gauge', async () =>
        (await op.metric('deployguard_violating_pods', { policy })) === 1 ? true : undefined,
      );

      const text = await op.metrics();
      const m = (name: string, labels: Record<string, string> = {}): number => {
        const re = new RegExp(`^${name}(\\{|\\s)`, 'm');
        expect(text, `${name} missing from /metrics`).to.match(re);
        return metricValue(text, name, labels);
      };
      expect(m('deployguard_pods_evaluated_total')).to.be.at.least(2);
      expect(m('deployguard_violations_total', { policy, rule: 'pss.privileged' })).to.equal(1);
      expect(m('deployguard_violating_pods', { policy, severity: 'critical' })).to.equal(1);
      expect(
        m('deployguard_actions_total', { policy, action: 'Label', outcome: 'success' }),
      ).to.equal(1);
      expect(m('deployguard_detection_latency_seconds_count')).to.be.at.least(1);
      expect(m('deployguard_detection_latency_seconds_bucket', { le: '+Inf' })).to.equal(
        m('deployguard_detection_latency_seconds_count'),
      );
      expect(
        m('deployguard_reconcile_duration_seconds_count', { controller: 'pod' }),
      ).to.be.at.least(2);
      expect(m('deployguard_watch_events_total', { resource: 'pods' })).to.be.at.least(2);
      expect(
        m('deployguard_last_watch_event_timestamp_seconds', { resource: 'pods' }),
      ).to.be.at.least(startedAt - 1);
      expect(m('deployguard_workqueue_depth', { controller: 'pod' })).to.be.at.least(0);
      expect(m('deployguard_policies', { mode: 'Enforce', ready: 'true' })).to.equal(1);
      expect(m('deployguard_breaker_open', { policy })).to.equal(0);
      expect(m('deployguard_leader')).to.equal(1);
      expect(text).to.match(/^deployguard_build_info\{version="[^"]+"\} 1$/m);

      // Bounded label values: never a pod name or UID.
      const forbidden = ['live-attacker', 'ghost-attacker', live?.metadata.uid ?? '?', ghostUid];
      for (const line of text.split('\n')) {
        if (!line.startsWith('deployguard_')) continue;
        for (const [, value] of line.matchAll(/="((?:[^"\\]|\\.)*)"/g))
          for (const f of forbidden) expect(value, `label value in: ${line}`).to.not.contain(f);
      }
    },
  );
});
