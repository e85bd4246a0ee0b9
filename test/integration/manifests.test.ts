// The kustomize layout in config/ renders, the real API server accepts it, the manager's pod
// template meets Pod Security `restricted` (by the API server's admission and by our own engine),
// and the operator's ServiceAccount gets exactly the permissions the role promises. The operator
// itself is never started here (no container runtime): kwok fakes the Deployment's pods.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parsePolicy } from '../../src/engine/parse-policy.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import {
  LEADER_ELECTION_PERMISSIONS,
  clusterPermissions,
  permissionSet,
} from '../../src/controllers/permissions.ts';
import { actionPermissions } from '../../src/remediation/action-catalog.ts';
import { sanitizePod } from '../../src/engine/sanitize.ts';
import { kubectl, repoRoot, waitFor } from './cluster.ts';

/** The image config/ runs is the one `make image` builds: deployguard:<package.json version>. */
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};
// Just the parts of a Deployment these tests read.
type Probe = { httpGet: object };
type Container = {
  image: string;
  args: string[];
  env: object[];
  ports: object[];
  resources: object;
  securityContext: object;
  livenessProbe: Probe;
  readinessProbe: Probe;
};
type DeploymentSpec = {
  replicas: number;
  template: {
    spec: {
      serviceAccountName: string;
      automountServiceAccountToken: boolean;
      securityContext: object;
      containers: Container[];
    };
  };
};
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

const OPERATOR_NS = 'deployguard-system';
const SA = 'deployguard-controller-manager';

async function render(dir: string): Promise<Doc[]> {
  const r = await kubectl(['kustomize', dir]);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Doc);
}

function find(docs: readonly Doc[], kind: string, name: string): Doc {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return d;
}

function toYaml(docs: readonly Doc[]): string {
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}

/** "group resource: verbs" lines, sorted, so a rule set compares as a whole. */
function ruleLines(rules: readonly Rule[]): string[] {
  const out: string[] = [];
  for (const r of rules)
    for (const g of r.apiGroups)
      for (const res of r.resources) out.push(`${g || 'core'} ${res}: ${[...r.verbs].sort()}`);
  return out.sort();
}

/** "g r: a,b" -> ["g r: a", "g r: b"]. */
function expandVerbs(line: string): string[] {
  const [head = '', verbs = ''] = line.split(': ');
  return verbs.split(',').map((v) => `${head}: ${v}`);
}

// Metric names from the public contract (docs/api.md section 5); alerts may only use these.
const METRICS = [
  'deployguard_pods_evaluated_total',
  'deployguard_violations_total',
  'deployguard_violating_pods',
  'deployguard_actions_total',
  'deployguard_detection_latency_seconds',
  'deployguard_reconcile_duration_seconds',
  'deployguard_watch_events_total',
  'deployguard_watch_restarts_total',
  'deployguard_last_watch_event_timestamp_seconds',
  'deployguard_workqueue_depth',
  'deployguard_workqueue_retries_total',
  'deployguard_policies',
  'deployguard_breaker_open',
  'deployguard_leader',
  'deployguard_build_info',
];

describe('config/: kustomize manifests', function () {
  const run = randomBytes(3).toString('hex');
  const testNs = `dg-manifests-${run}`;
  const suffix = `-test-${run}`;
  let defaults: Doc[];
  let deployment: Doc;
  let overlayDir: string;
  let overlay: Doc[];

  before(async function () {
    defaults = await render('config/default');
    deployment = find(defaults, 'Deployment', SA);
    // The test's own install: config/rbac + config/manager in a throwaway namespace with a name
    // suffix, so nothing collides with a real install (or another run) on this shared cluster.
    overlayDir = mkdtempSync(join(tmpdir(), 'dg-manifests-'));
    writeFileSync(
      join(overlayDir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `namespace: ${testNs}`,
        `nameSuffix: ${suffix}`,
        'labels:',
        '  - pairs:',
        `      deployguard.dev/test-run: '${run}'`,
        'resources:',
        // kustomize takes bases only by relative path.
        `  - ${relative(overlayDir, join(repoRoot, 'config', 'rbac'))}`,
        `  - ${relative(overlayDir, join(repoRoot, 'config', 'manager'))}`,
        '',
      ].join('\n'),
    );
    overlay = (await render(overlayDir)).filter((d) => d.kind !== 'Namespace');
    // The namespace carries the manifest's own labels (Pod Security restricted), so what is
    // admitted below is what config/manager's namespace would admit.
    const labels = find(defaults, 'Namespace', OPERATOR_NS).metadata.labels ?? {};
    await kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: testNs, labels: { ...labels, 'deployguard.dev/test': 'true' } },
      }),
    });
  });

  after(async function () {
    this.timeout(120_000);
    rmSync(overlayDir, { recursive: true, force: true });
    await kubectl(
      [
        'delete',
        'clusterrole,clusterrolebinding',
        '-l',
        `deployguard.dev/test-run=${run}`,
        '--ignore-not-found',
      ],
      { allowFail: true },
    );
    await kubectl(['delete', 'namespace', testNs, '--wait=false', '--ignore-not-found'], {
      allowFail: true,
    });
  });

  it('config/default renders every object with its final name in deployguard-system', () => {
    const names = defaults.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(names).to.deep.equal(
      [
        'ClusterRole/deployguard-manager',
        'ClusterRole/deployguard-metrics-reader',
        'ClusterRole/deployguard-policy-editor',
        'ClusterRole/deployguard-policy-viewer',
        'ClusterRoleBinding/deployguard-manager',
        'CustomResourceDefinition/containerdeploymentpolicies.deployguard.dev',
        'Deployment/deployguard-controller-manager',
        'Namespace/deployguard-system',
        'NetworkPolicy/deployguard-controller-manager',
        'PodDisruptionBudget/deployguard-controller-manager',
        'Role/deployguard-leader-election',
        'RoleBinding/deployguard-leader-election',
        'Service/deployguard-metrics',
        'ServiceAccount/deployguard-controller-manager',
      ].sort(),
    );
    const namespaced = [
      'Deployment',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
    ];
    for (const d of defaults.filter((x) => [...namespaced, 'ServiceAccount'].includes(x.kind)))
      expect(d.metadata.namespace, `${d.kind}/${d.metadata.name}`).to.equal(OPERATOR_NS);
    const binding = find(defaults, 'ClusterRoleBinding', 'deployguard-manager');
    expect(binding.subjects).to.deep.equal([
      { kind: 'ServiceAccount', name: SA, namespace: OPERATOR_NS },
    ]);
  });

  it('gives the operator exactly its least-privilege ClusterRole and leader-election Role', () => {
    // What the code asks for (src/controllers/permissions.ts), as rendered by kustomize.
    const role = find(defaults, 'ClusterRole', 'deployguard-manager');
    const asSet = (rules: Rule[]): string[] =>
      ruleLines(rules)
        .flatMap(expandVerbs)
        .map((l) => l.replace(': ', ' '))
        .sort();
    expect(asSet(role.rules as Rule[])).to.deep.equal(clusterPermissions());
    const election = find(defaults, 'Role', 'deployguard-leader-election');
    expect(asSet(election.rules as Rule[])).to.deep.equal(
      permissionSet(LEADER_ELECTION_PERMISSIONS),
    );
    expect(find(defaults, 'ServiceAccount', SA).automountServiceAccountToken).to.equal(true);
    // Every remediation action's declared needs are granted (the actions say what they use).
    const granted = new Set(ruleLines(role.rules as Rule[]).flatMap(expandVerbs));
    for (const p of actionPermissions())
      for (const v of p.verbs)
        expect([...granted], `${v} ${p.group}/${p.resource}`).to.include(
          `${p.group || 'core'} ${p.resource}: ${v}`,
        );
  });

  it('runs a hardened, highly available manager Deployment', () => {
    const spec = deployment.spec as DeploymentSpec;
    expect(spec.replicas).to.equal(2);
    const pod = spec.template.spec;
    expect(pod.serviceAccountName).to.equal(SA);
    expect(pod.automountServiceAccountToken).to.equal(true);
    expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 65532 });
    const [c] = pod.containers;
    if (!c) throw new Error('the Deployment has no container');
    expect(c.image).to.equal(`deployguard:${pkg.version}`);
    expect(c.args).to.deep.equal([
      'run',
      '--leader-elect',
      '--metrics-bind-address=:8080',
      '--health-probe-bind-address=:8081',
    ]);
    expect(c.securityContext).to.deep.include({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'health' });
    expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'health' });
    expect(c.ports).to.deep.include({ name: 'health', containerPort: 8081, protocol: 'TCP' });
    expect(c.resources).to.deep.equal({
      requests: { cpu: '100m', memory: '384Mi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
    expect(c.env).to.deep.include({
      name: 'DEPLOYGUARD_LEADER_ELECTION_NAMESPACE',
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    });
    expect(find(defaults, 'PodDisruptionBudget', SA).spec).to.deep.include({ minAvailable: 1 });
  });

  it("passes deployguard's own engine at Pod Security restricted", () => {
    const parsed = parsePolicy({
      apiVersion: 'deployguard.dev/v1alpha1',
      kind: 'ContainerDeploymentPolicy',
      metadata: { name: 'restricted' },
      spec: { mode: 'Audit', rules: { podSecurity: { level: 'restricted', version: 'latest' } } },
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const sanitized = sanitizePod(deployment);
    if (!sanitized) throw new Error('the Deployment was not read as a pod template');
    expect(sanitized.invalid).to.deep.equal([]);
    const result = evaluate(sanitized.pod, [parsed.compiled], {
      namespaceLabels: {},
      now: new Date(),
    });
    expect(result.errors).to.deep.equal([]);
    expect(result.violations).to.deep.equal([]);
  });

  it('renders config/prometheus with the alerts on-call needs, on contract metrics', async () => {
    const docs = await render('config/prometheus');
    const monitor = find(docs, 'ServiceMonitor', 'deployguard-controller-manager');
    const service = find(defaults, 'Service', 'deployguard-metrics');
    const selector = (monitor.spec as { selector: { matchLabels: Record<string, string> } })
      .selector.matchLabels;
    expect(service.metadata.labels).to.include(selector);
    const rule = find(docs, 'PrometheusRule', 'deployguard-alerts');
    type Alert = { alert: string; expr: string; annotations: Record<string, string> };
    const alerts = (rule.spec as { groups: { rules: Alert[] }[] }).groups.flatMap((g) => g.rules);
    expect(alerts.map((a) => a.alert)).to.include.members([
      'DeployguardViolationDetected',
      'DeployguardBreakerOpen',
      'DeployguardWatchStalled',
      'DeployguardNoLeader',
      'DeployguardActionsFailing',
      'DeployguardPolicyInvalid',
    ]);
    for (const a of alerts) {
      expect(Object.keys(a.annotations), a.alert).to.include.members([
        'summary',
        'description',
        'runbook',
      ]);
      for (const m of a.expr.match(/deployguard_[a-z_]+/g) ?? [])
        expect(METRICS, `${a.alert} uses ${m}`).to.include(m);
    }
  });

  it('is accepted by the API server (server-side dry run)', async () => {
    // Cluster-scoped objects exactly as shipped, plus the namespaced ones installed elsewhere.
    const clusterScoped = defaults.filter((d) => d.metadata.namespace === undefined);
    for (const docs of [clusterScoped, overlay]) {
      // Server-side apply, as the CRD needs: client-side apply's last-applied annotation would
      // hold its whole schema.
      const r = await kubectl(
        ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'],
        { input: toYaml(docs) },
      );
      // Warnings about the manifests themselves; others (say, about a copy someone applied
      // client-side on this shared cluster) are about the cluster's state, not these files.
      expect(r.stderr).to.not.match(/unknown field|duplicate field|deprecated|would violate/i);
    }
  });

  it('is admitted by Pod Security restricted in its own namespace', async () => {
    // Workload objects only get PodSecurity warnings; a pod from the template gets the verdict.
    const template = (deployment.spec as { template: Doc }).template;
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: 'template-check' },
      spec: { ...(template.spec as object), serviceAccountName: 'default' },
    };
    const r = await kubectl(['create', '--dry-run=server', '-n', testNs, '-f', '-'], {
      input: JSON.stringify(pod),
      allowFail: true,
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.not.include('PodSecurity');
  });

  it('installs for real: pods spread over kwok workers and the PDB protects one', async function () {
    this.timeout(180_000);
    await kubectl(['apply', '-f', '-'], { input: toYaml(overlay) });
    const nodes = await waitFor(
      'two Running manager pods',
      async () => {
        const r = await kubectl([
          'get',
          'pods',
          '-n',
          testNs,
          '-l',
          'app.kubernetes.io/component=controller-manager',
          '-o',
          'jsonpath={range .items[*]}{.status.phase} {.spec.nodeName}{"\\n"}{end}',
        ]);
        const rows = r.stdout.trim().split('\n').filter(Boolean);
        return rows.length === 2 && rows.every((l) => l.startsWith('Running '))
          ? rows.map((l) => l.split(' ')[1] ?? '')
          : undefined;
      },
      120_000,
    );
    expect(
      nodes.every((n) => n.startsWith('kwok-worker-')),
      nodes.join(),
    ).to.equal(true);
    expect(new Set(nodes).size, `both replicas on ${nodes.join()}`).to.equal(2);
    await waitFor('the PDB to allow exactly one disruption', async () => {
      const r = await kubectl([
        'get',
        'pdb',
        `${SA}${suffix}`,
        '-n',
        testNs,
        '-o',
        'jsonpath={.status.currentHealthy}/{.status.disruptionsAllowed}',
      ]);
      return r.stdout === '2/1';
    });
  });

  it("grants the operator's ServiceAccount what it needs and nothing else", async function () {
    this.timeout(120_000);
    // The install test may not have run alone; applying again is idempotent.
    await kubectl(['apply', '-f', '-'], { input: toYaml(overlay) });
    const user = `system:serviceaccount:${testNs}:${SA}${suffix}`;
    // A SubjectAccessReview asks the authorizer directly: no discovery, so it works whether or
    // not the CRDs (ours, wgpolicyk8s.io) are installed. "verb group/resource[/subresource]";
    // null namespace: cluster-scoped.
    const can = async (check: string, namespace: string | null): Promise<boolean> => {
      const [verb, path = ''] = check.split(' ');
      const [group = '', resource, subresource] = path.split('/');
      const review = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user,
          resourceAttributes: {
            verb,
            group,
            resource,
            subresource,
            namespace: namespace ?? undefined,
          },
        },
      };
      const r = await kubectl(['create', '-f', '-', '-o', 'jsonpath={.status.allowed}'], {
        input: JSON.stringify(review),
      });
      return r.stdout === 'true';
    };
    // RBAC reaches the authorizer through informers: wait for the first grant to show.
    await waitFor('the ClusterRoleBinding to take effect', () => can('watch /pods', null));
    // The RoleBinding (Leases) reaches the authorizer separately from the ClusterRoleBinding.
    await waitFor('the RoleBinding to take effect', () =>
      can('update coordination.k8s.io/leases', testNs),
    );
    // [check, namespace, allowed]
    const checks: [string, string | null, boolean][] = [
      ['patch /pods', testNs, true],
      ['delete /pods', testNs, true],
      ['create /pods/eviction', testNs, true],
      ['patch /nodes', null, true],
      ['list /namespaces', null, true],
      ['create /events', testNs, true],
      ['get apps/replicasets', testNs, true],
      ['create networking.k8s.io/networkpolicies', testNs, true],
      ['watch deployguard.dev/containerdeploymentpolicies', null, true],
      ['patch deployguard.dev/containerdeploymentpolicies/status', null, true],
      ['create wgpolicyk8s.io/policyreports', testNs, true],
      ['update coordination.k8s.io/leases', testNs, true],
      ['get /secrets', testNs, false],
      ['get /pods', testNs, false],
      ['list /secrets', null, false],
      ['create /pods', testNs, false],
      ['update /pods', testNs, false],
      ['create /pods/exec', testNs, false],
      ['delete /nodes', null, false],
      ['delete apps/deployments', testNs, false],
      ['delete networking.k8s.io/networkpolicies', testNs, false],
      ['update deployguard.dev/containerdeploymentpolicies', null, false],
      ['create rbac.authorization.k8s.io/clusterrolebindings', null, false],
      // Leases only in its own namespace.
      ['update coordination.k8s.io/leases', 'default', false],
    ];
    const verdicts = await Promise.all(checks.map(([c, ns]) => can(c, ns)));
    const line = (c: string, ns: string | null, ok: boolean): string =>
      `${ok ? 'can' : 'cannot'} ${c} in ${ns ?? 'the cluster'}`;
    expect(checks.map(([c, ns], i) => line(c, ns, verdicts[i] === true))).to.deep.equal(
      checks.map(([c, ns, ok]) => line(c, ns, ok)),
    );
  });
});
