// The operator in Audit mode, end to end on the real control plane: a violating pod gets exactly
// the annotations, label and Event api.md section 4 names; a benign pod is never touched; a
// pod that lives only seconds is still recorded; nothing the operator does is forbidden by its RBAC.
import { expect } from 'chai';
import { freshNamespace, kubectl, waitFor } from '../cluster.ts';
import { OperatorProcess, applyPolicy, operatorAccount } from './harness.ts';

interface PodJson {
  metadata: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    resourceVersion: string;
  };
}

async function getPod(ns: string, name: string): Promise<PodJson | undefined> {
  const r = await kubectl(['get', 'pod', name, '-n', ns, '-o', 'json'], { allowFail: true });
  return r.code === 0 ? (JSON.parse(r.stdout) as PodJson) : undefined;
}

async function events(
  ns: string,
  reason: string,
  name?: string,
): Promise<Record<string, unknown>[]> {
  const selector = [`reason=${reason}`, ...(name ? [`involvedObject.name=${name}`] : [])].join(',');
  const r = await kubectl(['get', 'events', '-n', ns, '--field-selector', selector, '-o', 'json']);
  return (JSON.parse(r.stdout) as { items: Record<string, unknown>[] }).items;
}

function pod(name: string, container: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'c', image: 'registry.example.com/app:1.0', ...container }] },
  });
}

describe('operator: Audit mode', function () {
  this.timeout(120_000);

  it('records a violating pod exactly once and leaves a benign pod alone', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-audit');
    await applyPolicy(own, `audit-${ns}`, {
      mode: 'Audit',
      match: { namespaces: [ns] },
      rules: { podSecurity: { level: 'baseline' }, indicators: { enabled: true } },
    });
    const op = await OperatorProcess.start({
      namespace: own,
      kubeconfig: await operatorAccount(own),
    });
    await kubectl(['create', '-n', ns, '-f', '-'], {
      input: pod('priv', { securityContext: { privileged: true } }),
    });
    await kubectl(['create', '-n', ns, '-f', '-'], { input: pod('benign', {}) });

    const recorded = await waitFor('violation annotation', async () => {
      const p = await getPod(ns, 'priv');
      return p?.metadata.annotations?.['deployguard.dev/violations'] ? p : undefined;
    });
    expect(recorded.metadata.annotations?.['deployguard.dev/violations']).to.equal(
      `[{"policy":"audit-${ns}","rule":"pss.privileged","severity":"critical"}]`,
    );
    expect(recorded.metadata.annotations?.['deployguard.dev/detected-at']).to.match(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    expect(recorded.metadata.labels?.['deployguard.dev/violating']).to.equal('true');
    const ev = await waitFor('PolicyViolation event', async () => {
      const list = await events(ns, 'PolicyViolation', 'priv');
      return list.length > 0 ? list : undefined;
    });
    expect(ev).to.have.length(1);
    expect(ev[0]?.type).to.equal('Warning');
    expect(ev[0]?.reportingComponent).to.equal('deployguard.dev/operator');
    expect(String(ev[0]?.message)).to.contain('pss.privileged');

    // Audit: the pod stays; the benign pod carries nothing of ours.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await getPod(ns, 'priv')).to.not.equal(undefined);
    const benign = await getPod(ns, 'benign');
    expect(benign?.metadata.annotations ?? {}).to.not.have.any.keys(
      'deployguard.dev/violations',
      'deployguard.dev/detected-at',
    );
    expect(benign?.metadata.labels ?? {}).to.not.have.any.keys('deployguard.dev/violating');

    // One write to the pod; replays write nothing: relabelling the namespace re-judges its pods.
    const podPath = `/namespaces/${ns}/pods/priv`;
    expect(op.writes(podPath), JSON.stringify(op.logs.slice(-60), null, 0)).to.have.length(1);
    const judged = await op.metric('deployguard_pods_evaluated_total');
    await kubectl(['label', 'namespace', ns, 'touched=yes']);
    await waitFor('the pods re-judged', async () =>
      (await op.metric('deployguard_pods_evaluated_total')) >= judged + 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(op.writes(podPath)).to.have.length(1);
    expect(op.writes(`/namespaces/${ns}/pods/benign`)).to.have.length(0);
    expect(await events(ns, 'PolicyViolation', 'priv')).to.have.length(1);

    expect(
      await op.metric('deployguard_violations_total', { rule: 'pss.privileged', namespace: ns }),
    ).to.equal(1);
    expect(await op.metric('deployguard_violating_pods', { policy: `audit-${ns}` })).to.equal(1);
    expect(await op.metric('deployguard_actions_total')).to.equal(0);
  });
});
