// The admission webhook on the real control plane: the API server calls `deployguard run`'s
// webhook through the ValidatingWebhookConfiguration the operator wrote, with the CA it made.
// Pods, workloads and `kubectl debug` are refused under Deny and admitted with kubectl-visible
// warnings under Warn; a server dry run is judged and leaves nothing; a bad policy is refused at
// `kubectl apply` with the field named; with the operator down a violating pod is admitted (fail
// open) and then remediated on its first watch event once the operator is back.
import { expect } from 'chai';
import { request } from 'node:https';
import { freePort, freshNamespace, kubectl, waitFor } from '../cluster.ts';
import {
  applyPolicy,
  metricValue,
  operatorAccount,
  operatorTest,
  OperatorProcess,
} from './harness.ts';
import {
  BASELINE,
  PRIVILEGED,
  annotated,
  deployment,
  get,
  pod,
  printLogOnFailure,
  type PodJson,
} from './objects.ts';

async function startServing(
  own: string,
  port: number,
  args: string[] = [],
  replica: { name?: string; kubeconfig?: string } = {},
): Promise<OperatorProcess> {
  return OperatorProcess.start({
    namespace: own,
    name: replica.name,
    kubeconfig: replica.kubeconfig ?? (await operatorAccount(own, { admission: true })),
    args: [
      `--admission-bind-address=127.0.0.1:${port}`,
      `--admission-url=https://127.0.0.1:${port}`,
      '--admission-cert-check=1s',
      ...args,
    ],
  });
}

/** kubectl with the manifest on stdin; never throws, so refusals can be read. */
function kubectlWith(args: string[], object: unknown): ReturnType<typeof kubectl> {
  return kubectl(args, { input: JSON.stringify(object), allowFail: true });
}

/** A violating pod's server dry run, refused for its violation: the webhook judged it. */
async function judgedProbe(ns: string): Promise<boolean> {
  const r = await kubectlWith(
    ['create', '-n', ns, '--dry-run=server', '-f', '-'],
    pod('probe', PRIVILEGED),
  );
  return r.code !== 0 && r.stderr.includes('pss.privileged');
}

/** Waits until the API server calls the webhook. */
async function untilRefused(ns: string): Promise<void> {
  await waitFor('the API server to call the webhook', () => judgedProbe(ns), 60_000);
}

/** A fresh namespace and a policy of `own` that denies Pod Security baseline there at admission. */
async function denyingNamespace(own: string, spec: Record<string, unknown> = {}): Promise<string> {
  const ns = await freshNamespace('dg-deny');
  await applyPolicy(own, `deny-${ns}`, {
    match: { namespaces: [ns] },
    rules: BASELINE,
    admission: { action: 'Deny' },
    ...spec,
  });
  return ns;
}

/** One entry of the webhook's Secret in `own`, decoded (e.g. `ca.crt`). */
async function webhookSecret(own: string, key: string): Promise<string> {
  const { stdout } = await kubectl([
    'get',
    'secret',
    'deployguard-webhook-tls',
    '-n',
    own,
    '-o',
    `jsonpath={.data.${key.replace('.', '\\.')}}`,
  ]);
  return Buffer.from(stdout, 'base64').toString('utf8');
}

describe('operator: admission webhook', function () {
  this.timeout(240_000);
  afterEach(printLogOnFailure);
  afterEach(async () => {
    // The configuration outlives the operator (it fails open); later tests must not meet it.
    await kubectl(
      ['delete', 'validatingwebhookconfiguration', 'deployguard', '--ignore-not-found'],
      {
        allowFail: true,
      },
    );
  });

  operatorTest(
    'refuses under Deny, warns under Warn and admits what is benign, as the API server asks',
    async () => {
      const own = await freshNamespace('dg-op');
      const deny = await denyingNamespace(own);
      const warn = await freshNamespace('dg-warn');
      await applyPolicy(own, `warn-${warn}`, {
        match: { namespaces: [warn] },
        rules: BASELINE,
        admission: { action: 'Warn' },
      });
      const op = await startServing(own, await freePort());
      await untilRefused(deny);
      const vwc = JSON.parse(
        (await kubectl(['get', 'validatingwebhookconfiguration', 'deployguard', '-o', 'json']))
          .stdout,
      ) as { webhooks: { failurePolicy: string; sideEffects: string; timeoutSeconds: number }[] };
      for (const w of vwc.webhooks) {
        expect(w.failurePolicy).to.equal('Ignore');
        expect(w.sideEffects).to.equal('None');
        expect(w.timeoutSeconds).to.be.at.most(5);
      }

      // A pod: refused with the policy, rule, field and fix named; nothing is created.
      const refused = await kubectlWith(['create', '-n', deny, '-f', '-'], pod('priv', PRIVILEGED));
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.contain('denied the request');
      expect(refused.stderr).to.contain(
        `policy "deny-${deny}": pss.privileged (critical) at spec.containers[0].securityContext.privileged`,
      );
      expect(refused.stderr).to.contain('fix: set the field as the Pod Security Standards');
      expect(await get('pod', 'priv', deny)).to.equal(undefined);

      // A Deployment: refused at apply, with the template's path; no silent ReplicaSet.
      const dep = await kubectlWith(
        ['apply', '-n', deny, '-f', '-'],
        deployment('web', 1, PRIVILEGED),
      );
      expect(dep.code).to.not.equal(0);
      expect(dep.stderr).to.contain('spec.template.spec.containers[0].securityContext.privileged');
      expect(await get('deployment', 'web', deny)).to.equal(undefined);

      // A benign pod: admitted, and not a word from deployguard.
      const benign = await kubectlWith(['create', '-n', deny, '-f', '-'], pod('ok'));
      expect(benign.code).to.equal(0);
      expect(benign.stderr).to.not.contain('deployguard');

      // `kubectl debug` with a privileged ephemeral container: refused; the pod keeps none.
      const debug = await kubectl(
        ['debug', '-n', deny, 'ok', '--image=busybox', '--profile=sysadmin', '--container=dbg'],
        { allowFail: true },
      );
      expect(debug.code).to.not.equal(0);
      expect(debug.stderr).to.contain('spec.ephemeralContainers[0].securityContext.privileged');
      const ok = await get<{ spec: { ephemeralContainers?: unknown[] } }>('pod', 'ok', deny);
      expect(ok?.spec.ephemeralContainers ?? []).to.have.length(0);

      // A server dry run is judged (refused) and writes nothing, under Warn it is warned.
      const dry = await kubectlWith(
        ['create', '-n', deny, '--dry-run=server', '-f', '-'],
        pod('dry', PRIVILEGED),
      );
      expect(dry.code).to.not.equal(0);
      expect(dry.stderr).to.contain('pss.privileged');
      const dryWarn = await kubectlWith(
        ['create', '-n', warn, '--dry-run=server', '-f', '-'],
        pod('dry', PRIVILEGED),
      );
      expect(dryWarn.code).to.equal(0);
      expect(dryWarn.stderr).to.match(/Warning: deployguard: policy "warn-.*": pss\.privileged/);
      expect(await get('pod', 'dry', warn)).to.equal(undefined);

      // Warn: admitted with a kubectl-visible warning, for a pod and a Deployment.
      const warned = await kubectlWith(['create', '-n', warn, '-f', '-'], pod('priv', PRIVILEGED));
      expect(warned.code).to.equal(0);
      expect(warned.stderr).to.match(
        /Warning: deployguard: policy "warn-.*": pss\.privileged \(critical\) at spec\.containers\[0\]/,
      );
      const warnedDep = await kubectlWith(
        ['apply', '-n', warn, '-f', '-'],
        deployment('web', 1, PRIVILEGED),
      );
      expect(warnedDep.code).to.equal(0);
      expect(warnedDep.stderr).to.contain('Warning: deployguard');
      // The operator still records what admission let through (mode is independent of admission),
      // and its own record (an UPDATE that adds no violation) is not refused.
      await annotated(warn, 'priv', 60_000);
      // What on-call sees: every answer counted by kind and outcome, and how long answers took.
      const text = await op.metrics();
      const count = (labels: Record<string, string>): number =>
        metricValue(text, 'deployguard_admission_reviews_total', labels);
      expect(count({ kind: 'Pod', outcome: 'denied' })).to.be.at.least(3);
      expect(count({ kind: 'Deployment', outcome: 'denied' })).to.equal(1);
      expect(count({ kind: 'Pod', outcome: 'warned' })).to.be.at.least(2);
      expect(count({ kind: 'Pod', outcome: 'allowed' })).to.be.at.least(1);
      expect(metricValue(text, 'deployguard_admission_duration_seconds_count')).to.be.at.least(8);
      // Each refusal is logged with who asked.
      const denial = op.logs.find((l) => l.msg === 'admission: denied' && l.name === 'priv');
      expect(denial?.user).to.equal('deployguard-admin');
    },
  );

  operatorTest(
    'refuses a policy the operator could not use at kubectl apply, naming the field',
    async () => {
      const own = await freshNamespace('dg-op');
      const deny = await denyingNamespace(own);
      const op = await startServing(own, await freePort());
      await untilRefused(deny);
      const bad = {
        apiVersion: 'deployguard.dev/v1alpha1',
        kind: 'ContainerDeploymentPolicy',
        metadata: { name: `bad-regex-${own}` },
        spec: { rules: { commands: { deniedPatterns: ['(a'] } } },
      };
      const r = await kubectlWith(['apply', '-f', '-'], bad);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain('denied the request');
      expect(r.stderr).to.contain('spec.rules.commands.deniedPatterns[0]');
      expect(await get('containerdeploymentpolicy', bad.metadata.name)).to.equal(undefined);
      // An unknown rule ID in severity, too; a good policy goes through.
      const unknown = await kubectlWith(['apply', '-f', '-'], {
        ...bad,
        spec: { rules: BASELINE, severity: { 'pss.nope': 'high' } },
      });
      expect(unknown.code).to.not.equal(0);
      expect(unknown.stderr).to.contain('spec.severity[pss.nope]');
      expect(
        await op.metric('deployguard_admission_reviews_total', {
          kind: 'ContainerDeploymentPolicy',
          outcome: 'invalid',
        }),
      ).to.equal(2);
    },
  );

  operatorTest(
    'fails open while the operator is down, and remediates on its first watch event',
    async () => {
      const own = await freshNamespace('dg-op');
      const deny = await denyingNamespace(own, {
        mode: 'Enforce',
        actions: [{ type: 'DeletePod' }],
      });
      const port = await freePort();
      const first = await startServing(own, port);
      await untilRefused(deny);
      await first.stop();
      // The webhook is gone, its configuration stays: the API server fails open.
      const admitted = await kubectlWith(
        ['create', '-n', deny, '-f', '-'],
        pod('slipped', PRIVILEGED),
      );
      expect(admitted.code, admitted.stderr).to.equal(0);
      expect(await get<PodJson>('pod', 'slipped', deny)).to.not.equal(undefined);
      await startServing(own, port);
      await waitFor(
        'the admitted pod deleted',
        async () => !(await get('pod', 'slipped', deny)),
        60_000,
      );
    },
  );

  operatorTest('renews its serving certificate while the API server keeps calling it', async () => {
    const own = await freshNamespace('dg-op');
    const deny = await denyingNamespace(own);
    // A one-minute certificate is renewed with 20 s left, 40 s after it was made.
    const op = await startServing(own, await freePort(), ['--admission-cert-validity=1m']);
    await untilRefused(deny);
    const secret = (): Promise<string> => webhookSecret(own, 'tls.crt');
    const before = await secret();
    let judged = 0;
    let unjudged = 0;
    const renewed = (): boolean =>
      op.logs.some((l) => l.msg === 'admission: serving a renewed certificate');
    // Every request in the meantime, and a few after, is judged: none fails open.
    const deadline = Date.now() + 90_000;
    let after = 0;
    while (Date.now() < deadline && after < 5) {
      if (await judgedProbe(deny)) judged++;
      else unjudged++;
      if (renewed()) after++;
    }
    expect(renewed(), 'the certificate was renewed').to.equal(true);
    expect(await secret()).to.not.equal(before);
    expect(unjudged, `${judged} judged`).to.equal(0);
    expect(judged).to.be.greaterThan(10);
  });

  operatorTest('is answered by a follower too, with the certificate the leader made', async () => {
    const own = await freshNamespace('dg-op');
    const deny = await denyingNamespace(own);
    // One account for both (applying it twice at once races), then both replicas at once.
    const kubeconfig = await operatorAccount(own, { admission: true });
    const [a, b] = await Promise.all([
      startServing(own, await freePort(), ['--leader-elect'], { name: 'A', kubeconfig }),
      startServing(own, await freePort(), ['--leader-elect'], { name: 'B', kubeconfig }),
    ]);
    await untilRefused(deny);
    const leading = async (op: OperatorProcess) => (await op.metric('deployguard_leader')) === 1;
    const follower = (await leading(a as OperatorProcess)) ? b : a;
    expect(await leading(follower as OperatorProcess)).to.equal(false);
    const serving = await (follower as OperatorProcess).waitForLog(
      (l) => l.msg === 'admission webhook serving',
      30_000,
    );
    const ca = await webhookSecret(own, 'ca.crt');
    // The API server's own review of a privileged pod, sent to the follower directly.
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'follower-1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        namespace: deny,
        userInfo: { username: 'tester', groups: [] },
        object: pod('priv', PRIVILEGED),
      },
    };
    const [host, port] = String(serving.address).split(':');
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host, port: Number(port), method: 'POST', path: '/validate/workloads', ca },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(review));
    });
    const response = (JSON.parse(answer) as { response: { uid: string; allowed: boolean } })
      .response;
    expect(response).to.include({ uid: 'follower-1', allowed: false });
  });

  operatorTest(
    'moves to a new CA while the API server keeps calling: trusted first, used after',
    async () => {
      const own = await freshNamespace('dg-op');
      const deny = await denyingNamespace(own);
      // A 20 s certificate under a 100 s CA: the CA is renewed with a third left, about 67 s in.
      const op = await startServing(own, await freePort(), ['--admission-cert-validity=20s']);
      await untilRefused(deny);
      const moved = (): boolean =>
        op.logs.some(
          (l) =>
            l.msg === 'admission: certificates written' &&
            l.why === 'the newest CA is published: the serving certificate moves to it',
        );
      let judged = 0;
      let unjudged = 0;
      let sawTwo = false;
      const deadline = Date.now() + 150_000;
      while (Date.now() < deadline && !moved()) {
        if (await judgedProbe(deny)) judged++;
        else unjudged++;
        if ((await webhookSecret(own, 'ca.crt')).match(/BEGIN CERTIFICATE/g)?.length === 2)
          sawTwo = true;
      }
      expect(moved(), 'the serving certificate moved to the new CA').to.equal(true);
      expect(sawTwo, 'the new CA joined the bundle next to the old one').to.equal(true);
      // A few more calls on the new CA's certificate.
      for (let i = 0; i < 5; i++) {
        if (await judgedProbe(deny)) judged++;
        else unjudged++;
      }
      expect(unjudged, `${judged} judged`).to.equal(0);
    },
  );
});
