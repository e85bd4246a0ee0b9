// The operator in Audit mode, end to end on the real control plane: a violating pod gets exactly
// the annotations, label and Event docs/api.md section 4 names; a benign pod is never touched; a
// pod that lives only seconds is still recorded; nothing the operator does is forbidden by its RBAC.
import { expect } from 'chai';
import { freshNamespace, kubectl, waitFor } from '../cluster.ts';
import { applyPolicy, operatorTest } from './harness.ts';
import {
  BASELINE,
  DETECTED_AT,
  PRIVILEGED,
  REPORTER,
  RFC3339,
  VIOLATING,
  VIOLATIONS,
  about,
  annotated,
  create,
  events,
  get,
  pod,
  printLogOnFailure,
  sleep,
  start,
  waitForEvents,
  type PodJson,
} from './objects.ts';

describe('operator: Audit mode', function () {
  this.timeout(120_000);
  afterEach(printLogOnFailure);

  operatorTest('records a violating pod exactly once and leaves a benign pod alone', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-audit');
    await applyPolicy(own, `audit-${ns}`, {
      mode: 'Audit',
      match: { namespaces: [ns] },
      rules: { ...BASELINE, indicators: { enabled: true } },
    });
    const op = await start(own);
    await create(ns, pod('priv', PRIVILEGED));
    await create(ns, pod('benign'));

    const recorded = await annotated(ns, 'priv', 60_000);
    expect(recorded.metadata.annotations?.[VIOLATIONS]).to.equal(
      `[{"policy":"audit-${ns}","rule":"pss.privileged","severity":"critical"}]`,
    );
    expect(recorded.metadata.annotations?.[DETECTED_AT]).to.match(RFC3339);
    expect(recorded.metadata.labels?.[VIOLATING]).to.equal('true');
    const ev = await waitForEvents(ns, about('priv', 'PolicyViolation'));
    expect(ev).to.have.length(1);
    expect(ev[0]?.type).to.equal('Warning');
    expect(ev[0]?.reportingComponent).to.equal(REPORTER);
    expect(String(ev[0]?.message)).to.contain('pss.privileged');

    // Audit: the pod stays; the benign pod carries nothing of ours.
    await sleep(1500);
    expect(await get('pod', 'priv', ns)).to.not.equal(undefined);
    const benign = await get<PodJson>('pod', 'benign', ns);
    expect(benign?.metadata.annotations ?? {}).to.not.have.any.keys(VIOLATIONS, DETECTED_AT);
    expect(benign?.metadata.labels ?? {}).to.not.have.any.keys(VIOLATING);

    // One write to the pod; replays write nothing: relabelling the namespace re-judges its pods.
    const podPath = `/namespaces/${ns}/pods/priv`;
    expect(op.writes(podPath), JSON.stringify(op.logs.slice(-60), null, 0)).to.have.length(1);
    const judged = await op.metric('deployguard_pods_evaluated_total');
    await kubectl(['label', 'namespace', ns, 'touched=yes']);
    await waitFor('the pods re-judged', async () =>
      (await op.metric('deployguard_pods_evaluated_total')) >= judged + 2 ? true : undefined,
    );
    await sleep(1000);
    expect(op.writes(podPath)).to.have.length(1);
    expect(op.writes(`/namespaces/${ns}/pods/benign`)).to.have.length(0);
    expect(await events(ns, about('priv', 'PolicyViolation'))).to.have.length(1);

    expect(
      await op.metric('deployguard_violations_total', { rule: 'pss.privileged', namespace: ns }),
    ).to.equal(1);
    expect(await op.metric('deployguard_violating_pods', { policy: `audit-${ns}` })).to.equal(1);
    expect(await op.metric('deployguard_actions_total')).to.equal(0);
  });
});
