// The Helm chart in charts/deployguard: it lints strictly, its schema refuses typos, it renders the
// very objects of the kustomize install in config/ (only the differences listed in NORMALIZATIONS
// are allowed, each with its reason), the API server accepts everything it renders, and it
// installs, upgrades and uninstalls for real on the local control plane. Helm is the pinned build
// of test/tools/build.sh. kwok fakes the operator's pods: nothing here starts the operator.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import {
  installCrd,
  kubeconfigPath,
  kubectl,
  repoRoot,
  run,
  waitFor,
  type RunOptions,
  type RunResult,
} from './cluster.ts';
import { prometheusOperatorCrds } from './prometheus-operator-crds.ts';
import { toolPath } from './tools.ts';

type Labels = Record<string, string>;
type Doc = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Labels;
    annotations?: Labels;
  };
  [key: string]: unknown;
};
type Container = { image: string; args: string[] };
type PodTemplate = { metadata: { labels: Labels }; spec: { containers: Container[] } };

const CHART = join(repoRoot, 'charts', 'deployguard');
const OPERATOR_NS = 'deployguard-system';
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const chartYaml = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as {
  version: string;
  appVersion: string;
  kubeVersion: string;
};
/** The arguments config/manager/manager.yaml passes; the chart adds to them only what is set. */
const BASE_ARGS = [
  'run',
  '--leader-elect',
  '--metrics-bind-address=:8080',
  '--health-probe-bind-address=:8081',
];

let helmPath = '';
// Helm's own state (repositories, cache, plugins) in a throwaway directory, not the user's home.
const helmHome = mkdtempSync(join(tmpdir(), 'dg-helm-'));

function helm(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(helmPath, args, {
    timeoutMs: 240_000,
    ...opts,
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath,
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    },
  });
}

const docsOf = (text: string): Doc[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);

/** `helm template` of the chart with the given --set values, CRDs included. */
async function template(
  release: string,
  namespace: string,
  sets: readonly string[] = [],
): Promise<Doc[]> {
  const r = await helm([
    'template',
    release,
    CHART,
    '--namespace',
    namespace,
    '--include-crds',
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  return docsOf(r.stdout);
}

async function kustomize(dir: string): Promise<Doc[]> {
  return docsOf((await kubectl(['kustomize', join(repoRoot, dir)])).stdout);
}

const key = (d: Doc): string => `${d.kind} ${d.metadata.namespace ?? '-'} ${d.metadata.name}`;

function find(docs: readonly Doc[], kind: string, name?: string): Doc {
  const d = docs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!d) throw new Error(`no ${kind}${name ? `/${name}` : ''} in the rendered chart`);
  return d;
}

const podTemplate = (docs: readonly Doc[]): PodTemplate =>
  (find(docs, 'Deployment').spec as { template: PodTemplate }).template;
const managerArgs = (docs: readonly Doc[]): string[] =>
  podTemplate(docs).spec.containers[0]?.args ?? [];

/**
 * Every difference allowed between the chart's objects and config/'s, undone on a copy of a chart
 * object. Nothing else is normalized: key order, quoting and comments never matter because both
 * sides are compared as parsed objects.
 */
const NORMALIZATIONS: readonly { what: string; why: string; undo: (d: Doc, r: string) => void }[] =
  [
    {
      what: "Helm's standard labels on every templated object",
      why:
        'app.kubernetes.io/instance, /version, /managed-by and helm.sh/chart say which release ' +
        'and chart made an object; config/ has neither. Removed only with exactly the values Helm ' +
        'sets, so a wrong value still fails.',
      undo: (d, release) => {
        const labels = d.metadata.labels;
        if (!labels) return;
        const helmLabels: Labels = {
          'app.kubernetes.io/instance': release,
          'app.kubernetes.io/version': chartYaml.appVersion,
          'app.kubernetes.io/managed-by': 'Helm',
          'helm.sh/chart': `deployguard-${chartYaml.version}`,
        };
        for (const [k, v] of Object.entries(helmLabels)) if (labels[k] === v) delete labels[k];
      },
    },
    {
      what: 'helm.sh/resource-policy: keep on the Namespace (namespace.create only)',
      why: 'Helm keeps its release record in the release namespace, so uninstalling must not delete it; kubectl delete -k has no record to keep.',
      undo: (d) => {
        const a = d.metadata.annotations;
        if (d.kind !== 'Namespace' || a?.['helm.sh/resource-policy'] !== 'keep') return;
        delete a['helm.sh/resource-policy'];
        if (Object.keys(a).length === 0) delete d.metadata.annotations;
      },
    },
  ];

function normalized(docs: readonly Doc[], release: string): Map<string, Doc> {
  const out = new Map<string, Doc>();
  for (const doc of docs) {
    const d = structuredClone(doc);
    for (const n of NORMALIZATIONS) n.undo(d, release);
    out.set(key(d), d);
  }
  return out;
}

/** Chart and kustomize objects compared as sets (kind, namespace, name) and object by object. */
function expectSameObjects(chart: readonly Doc[], kustomized: readonly Doc[], release: string) {
  const got = normalized(chart, release);
  const want = new Map(kustomized.map((d) => [key(d), d]));
  expect([...got.keys()].sort(), 'kind namespace name').to.deep.equal([...want.keys()].sort());
  for (const [k, d] of want) expect(got.get(k), k).to.deep.equal(d);
}

/** A PodMonitor scrapes secure metrics with the token in this Secret. */
const POD_MONITOR_TOKEN = 'podMonitor.tokenSecret.name=metrics-token';

describe('charts/deployguard: the Helm chart', function () {
  before(async function () {
    // A fresh clone without `make tools-build` builds helm here (minutes on 2 cores).
    this.timeout(50 * 60_000);
    helmPath = await toolPath('helm');
  });

  after(() => rmSync(helmHome, { recursive: true, force: true }));

  describe('rendering (helm lint, helm template)', function () {
    let kustomized: Doc[];
    let defaults: Doc[];

    before(async function () {
      kustomized = await kustomize('config/default');
      // The release name and namespace config/'s names come from.
      defaults = await template('deployguard', OPERATOR_NS);
    });

    it('is version 0.1.0 of package.json, for Kubernetes 1.28 and later', async () => {
      expect(chartYaml.version).to.equal(pkg.version);
      expect(chartYaml.appVersion).to.equal(pkg.version);
      const kube = (v: string) =>
        helm(['template', 'x', CHART, '--kube-version', v], { allowFail: true });
      const [old, first, vendor] = await Promise.all(
        ['v1.27.9', 'v1.28.0', 'v1.30.4-gke.1'].map(kube),
      );
      expect(old?.code, 'Kubernetes 1.27').to.not.equal(0);
      expect(old?.stderr).to.include('kubeVersion');
      expect(first?.code, `1.28: ${first?.stderr}`).to.equal(0);
      expect(vendor?.code, `a vendor's 1.30: ${vendor?.stderr}`).to.equal(0);
    });

    it('passes helm lint --strict with the defaults and with every toggle on', async () => {
      for (const sets of [
        [],
        [
          'serviceMonitor.enabled=true',
          'prometheusRule.enabled=true',
          'examplePolicies.enabled=true',
          'namespace.create=true',
          'operator.logLevel=debug',
          'guardFloors.maxActionsPerMinute=10',
          'admission.enabled=true',
          'admission.certValidity=720h',
        ],
        [
          'podMonitor.enabled=true',
          'podMonitor.tokenSecret.name=metrics-token',
          'podDisruptionBudget.enabled=false',
        ],
      ]) {
        const r = await helm(['lint', '--strict', CHART, ...sets.flatMap((s) => ['--set', s])], {
          allowFail: true,
        });
        expect(r.code, `helm lint --strict ${sets.join(' ')}\n${r.stdout}${r.stderr}`).to.equal(0);
        expect(r.stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      }
    });

    it('renders the objects of config/default (kubectl kustomize) with its default values', () => {
      // The release namespace exists before a Helm install (Helm keeps its record there), so by
      // default the chart has no Namespace object; namespace.create renders it (next test).
      const want = kustomized.filter((d) => d.kind !== 'Namespace');
      expect(kustomized.length - want.length, 'config/default has one Namespace').to.equal(1);
      expectSameObjects(defaults, want, 'deployguard');
    });

    it("renders config/default's Namespace, Pod Security labels included, with namespace.create", async () => {
      const withNs = await template('deployguard', OPERATOR_NS, ['namespace.create=true']);
      expectSameObjects(withNs, kustomized, 'deployguard');
    });

    it('renders the ServiceMonitor and PrometheusRule of config/prometheus, alerts unchanged', async () => {
      const prometheus = await kustomize('config/prometheus');
      const chart = await template('deployguard', OPERATOR_NS, [
        'serviceMonitor.enabled=true',
        'prometheusRule.enabled=true',
      ]);
      const monitoring = chart.filter((d) => d.apiVersion.startsWith('monitoring.coreos.com/'));
      expectSameObjects(monitoring, prometheus, 'deployguard');
      // None of them by default.
      expect(
        defaults.filter((d) => d.apiVersion.startsWith('monitoring.coreos.com/')),
      ).to.deep.equal([]);
    });

    it('adapts the alerts to another release and namespace: job, runbook names', async () => {
      const chart = await template('acme', 'observability', [
        'prometheusRule.enabled=true',
        'podMonitor.enabled=true',
        'podMonitor.tokenSecret.name=metrics-token',
      ]);
      const rule = JSON.stringify(find(chart, 'PrometheusRule').spec);
      const service = find(chart, 'Service').metadata.name;
      expect(service).to.equal('acme-deployguard-metrics');
      expect(rule).to.include(`up{job=\\"${service}\\"}`);
      expect(rule).to.include('-n observability');
      expect(rule).to.include('deploy/acme-deployguard-controller-manager');
      expect(rule).to.include('acme-deployguard-manager ClusterRole');
      expect(rule).to.not.include('deployguard-system');
      // The lease name is the operator's, fixed.
      expect(rule).to.include('lease deployguard-leader');
      // The PodMonitor gives its targets the same job as the ServiceMonitor would, and scrapes
      // the container port that exists.
      const monitor = find(chart, 'PodMonitor').spec as {
        selector: { matchLabels: Labels };
        podMetricsEndpoints: { port: string; honorLabels: boolean; relabelings: object[] }[];
      };
      expect(podTemplate(chart).metadata.labels).to.include(monitor.selector.matchLabels);
      expect(monitor.podMetricsEndpoints[0]?.port).to.equal('metrics');
      // The metrics' own namespace label (the violating pod's) must survive the scrape.
      expect(monitor.podMetricsEndpoints[0]?.honorLabels).to.equal(true);
      expect(monitor.podMetricsEndpoints[0]?.relabelings).to.deep.include({
        action: 'replace',
        targetLabel: 'job',
        replacement: service,
      });
    });

    it('secures /metrics by default, and says what a PodMonitor lacks without a token', async () => {
      // Secure by default: no opt-out flag, HTTPS with Prometheus' own token, TLS not verified
      // against the self-signed certificate.
      expect(managerArgs(defaults).filter((a) => a.startsWith('--metrics-'))).to.deep.equal([
        '--metrics-bind-address=:8080',
      ]);
      const sm = find(
        await template('deployguard', OPERATOR_NS, ['serviceMonitor.enabled=true']),
        'ServiceMonitor',
      ).spec as { endpoints: Record<string, unknown>[] };
      expect(sm.endpoints[0]).to.include({
        scheme: 'https',
        bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      });
      const r = await helm(['template', 'x', CHART, '--set', 'podMonitor.enabled=true'], {
        allowFail: true,
      });
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include('podMonitor.tokenSecret.name');
      // A mounted certificate replaces the self-signed one and is then verified.
      const mounted = await template('deployguard', OPERATOR_NS, [
        'metrics.certSecret=metrics-tls',
        'serviceMonitor.enabled=true',
      ]);
      expect(managerArgs(mounted)).to.include('--metrics-cert-dir=/etc/deployguard/metrics-certs');
      expect(JSON.stringify(podTemplate(mounted).spec)).to.include('"secretName":"metrics-tls"');
      const verified = find(mounted, 'ServiceMonitor').spec as {
        endpoints: { tlsConfig: { insecureSkipVerify: boolean } }[];
      };
      expect(verified.endpoints[0]?.tlsConfig.insecureSkipVerify).to.equal(false);
      // The opt-out is explicit and plain.
      const open = await template('deployguard', OPERATOR_NS, [
        'metrics.secure=false',
        'serviceMonitor.enabled=true',
      ]);
      expect(managerArgs(open)).to.include('--metrics-secure=false');
      expect(find(open, 'ServiceMonitor').spec).to.deep.nested.include({
        'endpoints[0].scheme': 'http',
      });
    });

    it('refuses to render both a ServiceMonitor and a PodMonitor', async () => {
      const r = await helm(
        [
          'template',
          'x',
          CHART,
          '--set',
          'serviceMonitor.enabled=true',
          '--set',
          'podMonitor.enabled=true',
          '--set',
          'podMonitor.tokenSecret.name=metrics-token',
        ],
        { allowFail: true },
      );
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.include('choose one');
    });

    it('renders the example policies of config/samples only when examplePolicies.enabled', async () => {
      const samples = await kustomize('config/samples');
      const chart = await template('deployguard', OPERATOR_NS, ['examplePolicies.enabled=true']);
      expectSameObjects(
        chart.filter((d) => d.kind === 'ContainerDeploymentPolicy'),
        samples,
        'deployguard',
      );
      expect(defaults.filter((d) => d.kind === 'ContainerDeploymentPolicy')).to.deep.equal([]);
    });

    it("keeps files/ verbatim copies of config/'s alerts and samples", () => {
      // Helm can't read outside the chart, so it carries copies; the two tests above compare what
      // they render, this one names the file to copy again.
      const pairs: [string, string][] = [
        ['config/prometheus/alerts.yaml', 'charts/deployguard/files/alerts.yaml'],
      ];
      const samples = readdirSync(join(repoRoot, 'config', 'samples')).filter(
        (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
      );
      expect(readdirSync(join(CHART, 'files', 'samples')).sort()).to.deep.equal(samples.sort());
      for (const f of samples)
        pairs.push([`config/samples/${f}`, `charts/deployguard/files/samples/${f}`]);
      for (const [original, copy] of pairs)
        expect(
          readFileSync(join(repoRoot, copy), 'utf8') ===
            readFileSync(join(repoRoot, original), 'utf8'),
          `${copy} differs from ${original}: cp ${original} ${copy}`,
        ).to.equal(true);
    });

    it('passes an operator flag only when its value is set', async () => {
      expect(managerArgs(defaults)).to.deep.equal(BASE_ARGS);
      const set = await template('deployguard', OPERATOR_NS, [
        'operator.logLevel=debug',
        'operator.logFormat=text',
        'operator.dryRun=true',
        'operator.resyncPeriod=5m',
        'operator.workers=8',
        'operator.watchNamespace=team-a',
        'operator.policySelector=team=a\\,tier!=b',
        'operator.shutdownTimeout=40s',
        'operator.extraArgs={--leader-election-identity=me}',
      ]);
      expect(managerArgs(set)).to.deep.equal([
        ...BASE_ARGS,
        '--log-level=debug',
        '--log-format=text',
        '--dry-run',
        '--resync-period=5m',
        '--workers=8',
        '--watch-namespace=team-a',
        '--policy-selector=team=a,tier!=b',
        '--shutdown-timeout=40s',
        '--leader-election-identity=me',
      ]);
    });

    it('serves admission only when admission.enabled: Service, port, flags, ingress and the RBAC of config/rbac', async () => {
      const kinds = (docs: readonly Doc[]) => docs.map((d) => `${d.kind}/${d.metadata.name}`);
      expect(kinds(defaults).filter((k) => /webhook|admission/.test(k))).to.deep.equal([]);
      const on = await template('deployguard', OPERATOR_NS, [
        'admission.enabled=true',
        'admission.certValidity=720h',
      ]);
      expect(managerArgs(on)).to.deep.equal([
        ...BASE_ARGS,
        '--admission-bind-address=:9443',
        `--admission-service=${OPERATOR_NS}/deployguard-webhook`,
        '--admission-cert-validity=720h',
      ]);
      const svc = find(on, 'Service', 'deployguard-webhook').spec as {
        ports: { port: number; targetPort: string }[];
      };
      expect(svc.ports).to.deep.equal([
        { name: 'https-webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' },
      ]);
      const ports = (podTemplate(on).spec.containers[0] as unknown as { ports: { name: string }[] })
        .ports;
      expect(ports.map((p) => p.name)).to.deep.equal(['metrics', 'health', 'webhook']);
      const ingress = (find(on, 'NetworkPolicy').spec as { ingress: { ports: unknown[] }[] })
        .ingress;
      expect(ingress.at(-1)).to.deep.equal({ ports: [{ port: 'webhook', protocol: 'TCP' }] });
      // The same rules as config/rbac/admission_role.yaml, the file the integration tests run
      // the operator with.
      const config = parseAllDocuments(
        readFileSync(join(repoRoot, 'config', 'rbac', 'admission_role.yaml'), 'utf8'),
      ).map((d) => d.toJSON() as Doc & { rules: unknown });
      for (const kind of ['ClusterRole', 'Role']) {
        const want = config.find((d) => d.kind === kind)?.rules;
        expect(
          (find(on, kind, 'deployguard-admission') as Doc & { rules: unknown }).rules,
        ).to.deep.equal(want);
      }
      for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
        const b = find(on, kind, 'deployguard-admission') as Doc & {
          subjects: { name: string; namespace: string }[];
        };
        expect(b.subjects).to.deep.equal([
          {
            kind: 'ServiceAccount',
            name: 'deployguard-controller-manager',
            namespace: OPERATOR_NS,
          },
        ]);
      }
    });

    it('passes the guard floors as flags only when set (0 counts as set)', async () => {
      const args = managerArgs(defaults).join(' ');
      expect(args).to.not.match(/protected-namespaces|max-cordoned|max-actions/);
      const set = await template('deployguard', OPERATOR_NS, [
        'guardFloors.protectedNamespaces={kube-system,team-*}',
        'guardFloors.maxCordonedNodesPercent=0',
        'guardFloors.maxActionsPerMinute=10',
      ]);
      expect(managerArgs(set)).to.deep.equal([
        ...BASE_ARGS,
        '--protected-namespaces=kube-system,team-*',
        '--max-cordoned-nodes-percent=0',
        '--max-actions-per-minute=10',
      ]);
    });

    it('applies replicas, image, resources, scheduling, pod labels and the PDB from values', async () => {
      const docs = await template('deployguard', OPERATOR_NS, [
        'replicas=3',
        'image.repository=mirror.example/deployguard',
        'image.tag=0.1.0-rc1',
        'image.pullPolicy=Always',
        'resources.limits.memory=2Gi',
        'nodeSelector.pool=system',
        'tolerations[0].key=dedicated',
        'tolerations[0].operator=Exists',
        'affinity.podAntiAffinity=null',
        'podLabels.team=blue',
        'podLabels.app\\.kubernetes\\.io/name=not-this',
        'podAnnotations.note=x',
        'podDisruptionBudget.minAvailable=null',
        'podDisruptionBudget.maxUnavailable=1',
      ]);
      const deployment = find(docs, 'Deployment').spec as {
        replicas: number;
        template: PodTemplate & {
          metadata: { annotations: Labels };
          spec: {
            containers: (Container & { imagePullPolicy: string; resources: object })[];
            nodeSelector: Labels;
            tolerations: object[];
            affinity?: object;
          };
        };
      };
      expect(deployment.replicas).to.equal(3);
      const pod = deployment.template;
      expect(pod.spec.containers[0]).to.deep.include({
        image: 'mirror.example/deployguard:0.1.0-rc1',
        imagePullPolicy: 'Always',
        resources: {
          requests: { cpu: '100m', memory: '384Mi' },
          limits: { cpu: '2', memory: '2Gi' },
        },
      });
      expect(pod.spec.nodeSelector).to.deep.equal({ pool: 'system' });
      expect(pod.spec.tolerations).to.deep.equal([{ key: 'dedicated', operator: 'Exists' }]);
      expect(pod.spec.affinity, 'anti-affinity dropped by null').to.equal(undefined);
      // The selector labels win over podLabels: the Deployment must keep selecting its pods.
      expect(pod.metadata.labels).to.deep.equal({
        'app.kubernetes.io/name': 'deployguard',
        'app.kubernetes.io/component': 'controller-manager',
        team: 'blue',
      });
      expect(pod.metadata.annotations).to.deep.equal({
        'kubectl.kubernetes.io/default-container': 'manager',
        note: 'x',
      });
      expect(find(docs, 'PodDisruptionBudget').spec).to.deep.include({ maxUnavailable: 1 });
      expect(find(docs, 'PodDisruptionBudget').spec).to.not.have.property('minAvailable');
      const noPdb = await template('deployguard', OPERATOR_NS, [
        'podDisruptionBudget.enabled=false',
      ]);
      expect(noPdb.filter((d) => d.kind === 'PodDisruptionBudget')).to.deep.equal([]);
    });

    it('refuses typos and wrong types in values (values.schema.json)', async () => {
      const refused = [
        'replica=3', // typo at the top
        'image.tags=1.0', // typo inside
        'operator.loglevel=debug',
        'guardFloors.protectedNamespace={a}',
        'serviceMonitor.enable=true',
        'replicas=two', // wrong types
        'operator.workers=many',
        'operator.workers=0', // out of range
        'operator.logLevel=verbose',
        'operator.resyncPeriod=10 minutes',
        'operator.dryRun=yes',
        'guardFloors.maxCordonedNodesPercent=150',
        'guardFloors.protectedNamespaces=kube-system', // a string, not a list
        'podLabels.tier=1', // label values are strings
        'image.pullPolicy=Sometimes',
      ];
      const results = await Promise.all(
        refused.map((s) => helm(['template', 'x', CHART, '--set', s], { allowFail: true })),
      );
      refused.forEach((s, i) => {
        const r = results[i] as RunResult;
        expect(r.code, `--set ${s} was accepted`).to.not.equal(0);
        expect(r.stderr, `--set ${s}`).to.include("don't meet the specifications of the schema");
      });
      // And the same keys with good values pass: the refusals above are about the values.
      const ok = await helm(
        [
          'template',
          'x',
          CHART,
          ...['replicas=3', 'image.tag=1.0', 'operator.logLevel=debug', 'operator.workers=64']
            .concat(['operator.resyncPeriod=1h30m', 'guardFloors.maxCordonedNodesPercent=100'])
            .flatMap((s) => ['--set', s]),
          '--set-string',
          'podLabels.tier=1',
        ],
        { allowFail: true },
      );
      expect(ok.code, ok.stderr).to.equal(0);
    });
  });

  describe('on the local control plane', function () {
    const id = randomBytes(3).toString('hex');
    // A release name containing "deployguard" is the prefix of every object name; a unique one
    // keeps clear of config/'s deployguard-manager ClusterRole, which other tests apply.
    const release = `deployguard-${id}`;
    const namespace = `dg-chart-${id}`;
    const createdRelease = `deployguard-ns-${id}`;
    const createdNamespace = `dg-chart-ns-${id}`;
    const sa = `${release}-controller-manager`;
    let installedPrometheusCrds: string[] = [];
    let manifest: Doc[] = [];
    let psaLabels: Labels = {};

    before(async function () {
      this.timeout(300_000);
      await installCrd();
      installedPrometheusCrds = await prometheusOperatorCrds.install();
      const ns = find(await kustomize('config/default'), 'Namespace');
      psaLabels = Object.fromEntries(
        Object.entries(ns.metadata.labels ?? {}).filter(([k]) => k.startsWith('pod-security')),
      );
      // As docs/tools.md and the chart's README say: the namespace first, with its labels.
      await kubectl(['create', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: {
            name: namespace,
            labels: { ...psaLabels, 'deployguard.dev/test': 'true' },
          },
        }),
      });
    });

    after(async function () {
      this.timeout(240_000);
      for (const [rel, ns] of [
        [release, namespace],
        [createdRelease, createdNamespace],
      ] as const)
        await helm(['uninstall', rel, '-n', ns, '--ignore-not-found'], { allowFail: true });
      await kubectl(
        ['delete', 'namespace', namespace, createdNamespace, '--wait=false', '--ignore-not-found'],
        { allowFail: true },
      );
      await prometheusOperatorCrds.remove(installedPrometheusCrds);
    });

    it('is accepted by the API server with every toggle on (helm and kubectl server dry runs)', async function () {
      this.timeout(240_000);
      const everything = [
        'serviceMonitor.enabled=true',
        'prometheusRule.enabled=true',
        'examplePolicies.enabled=true',
        'admission.enabled=true',
      ];
      const dry = await helm([
        'install',
        release,
        CHART,
        '-n',
        namespace,
        '--dry-run=server',
        ...everything.flatMap((s) => ['--set', s]),
      ]);
      expect(dry.stdout).to.include('STATUS: pending-install');
      const rendered = docsOf(dry.stdout.slice(dry.stdout.indexOf('---')));
      expect(rendered.map((d) => d.kind)).to.include.members([
        'Deployment',
        'ServiceMonitor',
        'PrometheusRule',
        'ContainerDeploymentPolicy',
      ]);
      // Helm's dry run resolves every kind and validates against the server's OpenAPI; a
      // server-side apply dry run also runs admission and the CRDs' schemas and CEL rules.
      for (const sets of [everything, ['podMonitor.enabled=true', POD_MONITOR_TOKEN]]) {
        const docs = await template(release, namespace, sets);
        const namespaced = docs.filter((d) => d.kind !== 'CustomResourceDefinition');
        const r = await kubectl(
          ['apply', '--server-side', '--dry-run=server', '-n', namespace, '-f', '-'],
          { input: namespaced.map((d) => JSON.stringify(d)).join('\n---\n') },
        );
        expect(r.stderr).to.not.match(/unknown field|duplicate field|deprecated|would violate/i);
        expect(r.stdout.trim().split('\n').length, r.stdout).to.equal(namespaced.length);
      }
    });

    it('installs: every object exists, owned by the release; pods run; the ServiceAccount has its RBAC', async function () {
      this.timeout(300_000);
      const r = await helm([
        'install',
        release,
        CHART,
        '-n',
        namespace,
        '--wait',
        '--timeout',
        '4m',
      ]);
      expect(r.stdout).to.include('STATUS: deployed');
      // NOTES.txt tells how to check it works.
      expect(r.stdout).to.include(`kubectl get lease deployguard-leader -n ${namespace}`);
      expect(r.stdout).to.include(`svc/${release}-metrics`);
      manifest = docsOf((await helm(['get', 'manifest', release, '-n', namespace])).stdout);
      expect(manifest.map((d) => `${d.kind}/${d.metadata.name}`).sort()).to.deep.equal(
        [
          `ClusterRole/${release}-manager`,
          `ClusterRole/${release}-metrics-reader`,
          `ClusterRole/${release}-policy-editor`,
          `ClusterRole/${release}-policy-viewer`,
          `ClusterRoleBinding/${release}-manager`,
          `Deployment/${sa}`,
          `NetworkPolicy/${sa}`,
          `PodDisruptionBudget/${sa}`,
          `Role/${release}-leader-election`,
          `RoleBinding/${release}-leader-election`,
          `Service/${release}-metrics`,
          `ServiceAccount/${sa}`,
        ].sort(),
      );
      for (const d of manifest) {
        const live = JSON.parse(
          (
            await kubectl([
              'get',
              d.kind.toLowerCase(),
              d.metadata.name,
              '-n',
              namespace,
              '-o',
              'json',
            ])
          ).stdout,
        ) as Doc;
        expect(live.metadata.annotations?.['meta.helm.sh/release-name'], key(d)).to.equal(release);
      }
      await waitFor(
        'two Running operator pods',
        async () => {
          const pods = await kubectl([
            'get',
            'pods',
            '-n',
            namespace,
            '-l',
            'app.kubernetes.io/component=controller-manager',
            '-o',
            'jsonpath={.items[*].status.phase}',
          ]);
          return pods.stdout.trim() === 'Running Running';
        },
        120_000,
      );
      // The binding gives the release's ServiceAccount exactly what the operator needs.
      const can = async (verb: string, resource: string, ns?: string): Promise<boolean> => {
        const args = [
          'auth',
          'can-i',
          verb,
          resource,
          `--as=system:serviceaccount:${namespace}:${sa}`,
        ];
        const res = await kubectl(ns ? [...args, '-n', ns] : args, { allowFail: true });
        return res.stdout.trim() === 'yes';
      };
      expect(await can('patch', 'pods', 'default'), 'patch pods').to.equal(true);
      expect(await can('update', 'leases.coordination.k8s.io', namespace), 'its lease').to.equal(
        true,
      );
      expect(await can('update', 'leases.coordination.k8s.io', 'default'), 'other leases').to.equal(
        false,
      );
      expect(await can('get', 'secrets', namespace), 'secrets').to.equal(false);
      // Helm's release record, which the uninstall test sees go.
      const records = await kubectl([
        'get',
        'secrets',
        '-n',
        namespace,
        '-l',
        `owner=helm,name=${release}`,
        '-o',
        'name',
      ]);
      expect(records.stdout.trim()).to.match(/^secret\/sh\.helm\.release\.v1\./);
      // The CRD came from crds/ (or was there already) and is served.
      await kubectl(['get', 'crd', 'containerdeploymentpolicies.deployguard.dev']);
    });

    it('upgrades: a changed value reaches the live Deployment and its pods', async function () {
      this.timeout(300_000);
      if (manifest.length === 0) throw new Error('the install test did not install the release');
      await helm([
        'upgrade',
        release,
        CHART,
        '-n',
        namespace,
        '--set',
        'replicas=3',
        '--set',
        'operator.logLevel=debug',
        '--set',
        'podLabels.team=blue',
        '--wait',
        '--timeout',
        '4m',
      ]);
      const live = JSON.parse(
        (await kubectl(['get', 'deployment', sa, '-n', namespace, '-o', 'json'])).stdout,
      ) as Doc;
      const spec = live.spec as { replicas: number; template: PodTemplate };
      expect(spec.replicas).to.equal(3);
      expect(spec.template.spec.containers[0]?.args).to.deep.equal([
        ...BASE_ARGS,
        '--log-level=debug',
      ]);
      await waitFor(
        'three Running pods of the new template',
        async () => {
          const pods = await kubectl([
            'get',
            'pods',
            '-n',
            namespace,
            '-l',
            'app.kubernetes.io/component=controller-manager,team=blue',
            '-o',
            'jsonpath={.items[*].status.phase}',
          ]);
          return pods.stdout.trim() === 'Running Running Running';
        },
        180_000,
      );
      const history = JSON.parse(
        (await helm(['history', release, '-n', namespace, '-o', 'json'])).stdout,
      ) as { revision: number; status: string }[];
      expect(history.map((h) => `${h.revision} ${h.status}`)).to.deep.equal([
        '1 superseded',
        '2 deployed',
      ]);
    });

    it('uninstalls: every object is gone, the CRD and the policies stay', async function () {
      this.timeout(300_000);
      if (manifest.length === 0) throw new Error('the install test did not install the release');
      // A policy someone wrote must survive the operator's uninstall (the CRD is never deleted).
      const policy = `chart-keep-${id}`;
      await kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'deployguard.dev/v1alpha1',
          kind: 'ContainerDeploymentPolicy',
          metadata: { name: policy },
          spec: { mode: 'Audit', rules: { podSecurity: { level: 'baseline' } } },
        }),
      });
      try {
        await helm(['uninstall', release, '-n', namespace, '--wait', '--timeout', '4m']);
        for (const d of manifest) {
          const r = await kubectl([
            'get',
            d.kind.toLowerCase(),
            d.metadata.name,
            '-n',
            namespace,
            '--ignore-not-found',
            '-o',
            'name',
          ]);
          expect(r.stdout.trim(), `${key(d)} still exists`).to.equal('');
        }
        await waitFor(
          'the operator pods to be deleted',
          async () =>
            (await kubectl(['get', 'pods', '-n', namespace, '-o', 'name'])).stdout.trim() === '',
          120_000,
        );
        // Helm's release records (Secrets) are gone too.
        const records = await kubectl([
          'get',
          'secrets',
          '-n',
          namespace,
          '-l',
          `owner=helm,name=${release}`,
          '-o',
          'name',
        ]);
        expect(records.stdout.trim()).to.equal('');
        await kubectl(['get', 'crd', 'containerdeploymentpolicies.deployguard.dev']);
        await kubectl(['get', 'cdp', policy]);
      } finally {
        await kubectl(['delete', 'cdp', policy, '--ignore-not-found'], { allowFail: true });
      }
    });

    it('namespace.create: helm install --create-namespace --take-ownership labels the namespace for Pod Security and keeps it on uninstall', async function () {
      this.timeout(300_000);
      await helm([
        'install',
        createdRelease,
        CHART,
        '-n',
        createdNamespace,
        '--create-namespace',
        '--take-ownership',
        '--set',
        'namespace.create=true',
        '--set',
        'replicas=1',
        '--wait',
        '--timeout',
        '4m',
      ]);
      const ns = async (): Promise<Doc> =>
        JSON.parse(
          (await kubectl(['get', 'namespace', createdNamespace, '-o', 'json'])).stdout,
        ) as Doc;
      const live = await ns();
      expect(live.metadata.labels).to.include(psaLabels);
      expect(live.metadata.annotations?.['meta.helm.sh/release-name']).to.equal(createdRelease);
      await helm([
        'uninstall',
        createdRelease,
        '-n',
        createdNamespace,
        '--wait',
        '--timeout',
        '4m',
      ]);
      const after = await ns();
      expect(after.metadata.labels, 'kept, labels and all').to.include(psaLabels);
      expect((after as { status?: { phase?: string } }).status?.phase).to.equal('Active');
      expect(
        (await kubectl(['get', 'deployment', '-n', createdNamespace, '-o', 'name'])).stdout.trim(),
      ).to.equal('');
    });
  });
});
