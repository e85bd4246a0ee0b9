// The image `make image` builds, run with podman the way a kubelet starts the Deployment of
// config/manager/manager.yaml: its args, env, user, read-only root filesystem, dropped
// capabilities, no privilege escalation and a /tmp emptyDir, read from that file; the in-cluster
// configuration (KUBERNETES_SERVICE_HOST/PORT and a ServiceAccount token from the TokenRequest API
// with the cluster CA and the namespace, mounted read-only at
// /var/run/secrets/kubernetes.io/serviceaccount), bound to the shipped RBAC of config/rbac; no
// kubeconfig. It must become ready, take the Lease, annotate a violating pod, serve metrics, be
// refused nothing by its RBAC and stop gracefully. `evaluate` from the image must print what the
// host CLI prints. The image holds no shell and no package manager, runs Node as pinned, as 65532,
// and carries its OCI labels.
//
// The image is built (make image) unless the one in podman's store was built from this very commit.
// Podman on these machines needs --runtime runc (crun refuses the hybrid cgroup layout) and
// explicit ulimits; --network host reaches the API server on 127.0.0.1.
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  clusterDir,
  freePort,
  freshNamespace,
  kubectl,
  loadKubeConfig,
  repoRoot,
  run,
  waitFor,
  type RunResult,
} from './cluster.ts';
import {
  SERVICE_ACCOUNT,
  TEST_OWNER_LABEL,
  applyPolicy,
  metricValue,
  metricsReaderToken,
  operatorAccount,
  scrape,
  type LogLine,
} from './operator/harness.ts';
import { leastPrivilegeProblems } from './operator/least-privilege.ts';
import {
  BASELINE,
  PRIVILEGED,
  VIOLATING,
  VIOLATIONS,
  annotated,
  create,
  pod,
} from './operator/objects.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
};
const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string }>;
};
const IMAGE = `deployguard:${pkg.version}`;
const PINNED_NODE = `v${lock.packages['node_modules/node']?.version}`;
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const LEASE = 'deployguard-leader';
/** What every container needs on these machines (see the header). */
const PODMAN_RUN = [
  'run',
  '--rm',
  '--runtime',
  'runc',
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
];

interface ManagerContainer {
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext: {
    runAsUser: number;
    runAsGroup: number;
    runAsNonRoot: boolean;
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
    capabilities: { drop: string[] };
    seccompProfile: { type: string };
  };
  volumeMounts: { name: string; mountPath: string }[];
  image: string;
}
interface DeploymentDoc {
  kind: string;
  spec: {
    template: {
      spec: {
        containers: (ManagerContainer & { name: string })[];
        volumes: { name: string; emptyDir?: { sizeLimit?: string } }[];
      };
    };
  };
}

/** The Deployment of config/manager/manager.yaml and its manager container. */
function managerDeployment(): { deployment: DeploymentDoc; manager: ManagerContainer } {
  const docs = parseAllDocuments(
    readFileSync(join(repoRoot, 'config', 'manager', 'manager.yaml'), 'utf8'),
  ).map((d) => d.toJS() as DeploymentDoc);
  const deployment = docs.find((d) => d.kind === 'Deployment');
  const manager = deployment?.spec.template.spec.containers.find((c) => c.name === 'manager');
  if (!deployment || !manager)
    throw new Error('config/manager/manager.yaml has no manager container');
  return { deployment, manager };
}

function podman(args: readonly string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  return run('podman', args, opts);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('image: the container make image builds', function () {
  this.timeout(180_000);
  let exported = '';
  let files: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'dg-image-'));

  before(async function () {
    // A cold build (Debian packages fetched, npm ci) takes about a minute; leave room for load.
    this.timeout(20 * 60_000);
    // Only an image of exactly this commit, from a clean tree, is the image under test: one left
    // by another checkout or an earlier commit (podman's store is per machine) is rebuilt.
    const head = (await run('git', ['rev-parse', 'HEAD'], { allowFail: true })).stdout.trim();
    const dirty = (await run('git', ['status', '--porcelain'], { allowFail: true })).stdout.trim();
    // On a machine without podman yet there is no image either: make image installs podman
    // (apt-get) and builds it.
    const havePodman =
      (await run('sh', ['-c', 'command -v podman'], { allowFail: true })).code === 0;
    const label = havePodman
      ? await podman(
          [
            'image',
            'inspect',
            '--format',
            '{{index .Config.Labels "org.opencontainers.image.revision"}}',
            IMAGE,
          ],
          { allowFail: true },
        )
      : undefined;
    if (!label || label.code !== 0 || dirty !== '' || head === '' || label.stdout.trim() !== head)
      await run('make', ['image'], { inheritOutput: true, timeoutMs: 19 * 60_000 });
    // The image's whole filesystem, as a tar, for the checks of what it holds.
    const name = `dg-image-export-${randomBytes(4).toString('hex')}`;
    await podman(['create', '--name', name, IMAGE]);
    exported = join(scratch, 'rootfs.tar');
    try {
      await podman(['export', '--output', exported, name], { timeoutMs: 120_000 });
    } finally {
      await podman(['rm', '-f', name], { allowFail: true });
    }
    files = (await run('tar', ['-tf', exported], { timeoutMs: 120_000 })).stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => `/${f.replace(/^\.?\//, '')}`);
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('holds no shell and no package manager, and cannot start one', async () => {
    const base = (f: string): string => f.replace(/\/$/, '').split('/').pop() ?? '';
    const forbidden = [
      'sh',
      'bash',
      'dash',
      'ash',
      'busybox',
      'apt',
      'apt-get',
      'dpkg',
      'npm',
      'npx',
    ];
    expect(files.filter((f) => !f.endsWith('/') && forbidden.includes(base(f)))).to.deep.equal([]);
    expect(files.filter((f) => f.startsWith('/bin/') || f.startsWith('/usr/bin/'))).to.deep.equal(
      [],
    );
    const sh = await podman([...PODMAN_RUN, '--entrypoint', '/bin/sh', IMAGE, '-c', 'true'], {
      allowFail: true,
    });
    expect(sh.code, sh.stderr).to.not.equal(0);
    expect(sh.stderr).to.match(/\/bin\/sh: no such file or directory/);
  });

  it('runs the pinned Node, byte for byte, as 65532 by default, with its OCI labels', async () => {
    const node = await podman([
      ...PODMAN_RUN,
      '--entrypoint',
      '/nodejs/bin/node',
      IMAGE,
      '--version',
    ]);
    expect(node.stdout.trim()).to.equal(PINNED_NODE);
    const hostNode = join(repoRoot, 'node_modules', '.bin', 'node');
    expect((await run(hostNode, ['--version'])).stdout.trim()).to.equal(PINNED_NODE);
    const out = join(scratch, 'node');
    await run('tar', ['-xf', exported, '-C', scratch, '--strip-components=2', 'nodejs/bin/node']);
    expect(sha256(readFileSync(out))).to.equal(sha256(readFileSync(hostNode)));

    const ids = await podman([
      ...PODMAN_RUN,
      '--entrypoint',
      '/nodejs/bin/node',
      IMAGE,
      '-e',
      'console.log(process.getuid(), process.getgid())',
    ]);
    expect(ids.stdout.trim()).to.equal('65532 65532');
    const config = JSON.parse(
      (await podman(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])).stdout,
    ) as { User: string; Entrypoint: string[]; Cmd: string[]; Labels: Record<string, string> };
    expect(config.User).to.equal('65532:65532');
    expect(config.Entrypoint).to.deep.equal(['/nodejs/bin/node', '/app/dist/cli.js']);
    expect(config.Cmd).to.deep.equal(['run']);
    expect(config.Labels['org.opencontainers.image.version']).to.equal(pkg.version);
    expect(config.Labels['org.opencontainers.image.licenses']).to.equal(pkg.license);
    expect(config.Labels).to.include.keys(
      'org.opencontainers.image.source',
      'org.opencontainers.image.revision',
      'org.opencontainers.image.title',
    );
    const version = await podman([...PODMAN_RUN, IMAGE, 'version']);
    expect(version.stdout).to.contain(pkg.version);
  });

  it('judges manifests with `evaluate` exactly as the host CLI does (stdin and a mounted file)', async () => {
    const attacks = readFileSync(join(repoRoot, 'examples', 'attacks.yaml'), 'utf8');
    const hardened = ['--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges'];
    for (const output of ['table', 'json']) {
      const args = ['evaluate', '-p', 'examples/policies.yaml', '-f', '-', '-o', output];
      args.push('--at', '2026-01-05T12:00:00Z');
      const host = await run(process.execPath, [join(repoRoot, 'src', 'cli.ts'), ...args], {
        input: attacks,
        allowFail: true,
      });
      const inImage = await podman(
        [
          ...PODMAN_RUN,
          '-i',
          ...hardened,
          '-v',
          `${join(repoRoot, 'examples')}:/app/examples:ro`,
          IMAGE,
          ...args,
        ],
        { input: attacks, allowFail: true },
      );
      expect(host.code, host.stderr).to.equal(1); // violations found
      expect(inImage.code, inImage.stderr).to.equal(host.code);
      expect(inImage.stdout).to.equal(host.stdout);
      expect(inImage.stderr).to.equal(host.stderr);
    }
  });

  it('runs as the Deployment: ready, leads, annotates a violating pod, serves metrics, stops cleanly', async function () {
    this.timeout(240_000);
    const { deployment, manager } = managerDeployment();
    const sc = manager.securityContext;
    // What config/ ships must be what is proven here.
    expect(manager.image).to.equal(IMAGE);
    expect(sc).to.deep.include({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(sc.capabilities.drop).to.deep.equal(['ALL']);
    expect(sc.seccompProfile.type).to.equal('RuntimeDefault');

    const own = await freshNamespace('dg-img');
    const ns = await freshNamespace('dg-img-pods');
    await operatorAccount(own); // the ServiceAccount, bound to config/rbac's ClusterRole and Role
    const policy = `image-${ns}`;
    await applyPolicy(own, policy, { mode: 'Audit', match: { namespaces: [ns] }, rules: BASELINE });

    // The projected ServiceAccount volume: a token from the TokenRequest API, the cluster CA, the
    // namespace; world-readable files as the kubelet writes them, mounted read-only.
    const sa = join(scratch, 'serviceaccount');
    rmSync(sa, { recursive: true, force: true });
    const token = (
      await kubectl(['create', 'token', SERVICE_ACCOUNT, '-n', own, '--duration=1h'])
    ).stdout.trim();
    mkdirSync(sa, { mode: 0o755 });
    writeFileSync(join(sa, 'token'), token);
    writeFileSync(join(sa, 'ca.crt'), readFileSync(join(clusterDir, 'pki', 'ca.crt')));
    writeFileSync(join(sa, 'namespace'), own);
    for (const f of ['token', 'ca.crt', 'namespace']) chmodSync(join(sa, f), 0o644);
    chmodSync(scratch, 0o755);

    const server = new URL(loadKubeConfig().getCurrentCluster()?.server ?? '');
    const metricsPort = await freePort();
    const probePort = await freePort();
    // The Deployment's args; the bind addresses point at free loopback ports (host network), and
    // the policy selector keeps other tests' policies out, as for every operator in these tests.
    const args = manager.args.map((a) =>
      a.startsWith('--metrics-bind-address=')
        ? `--metrics-bind-address=127.0.0.1:${metricsPort}`
        : a.startsWith('--health-probe-bind-address=')
          ? `--health-probe-bind-address=127.0.0.1:${probePort}`
          : a,
    );
    args.push(`--policy-selector=${TEST_OWNER_LABEL}=${own}`);
    const env = [
      'KUBERNETES_SERVICE_HOST',
      server.hostname,
      'KUBERNETES_SERVICE_PORT',
      server.port,
    ];
    for (const e of manager.env) {
      const value =
        e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace' ? own : (e.value ?? '');
      env.push(e.name, value);
    }
    const tmp = manager.volumeMounts.find((m) => m.mountPath === '/tmp');
    const tmpSize = deployment.spec.template.spec.volumes.find((v) => v.name === tmp?.name)
      ?.emptyDir?.sizeLimit;
    expect(tmpSize, 'a /tmp emptyDir').to.be.a('string');
    const name = `dg-image-operator-${randomBytes(4).toString('hex')}`;
    const podmanArgs = [
      ...PODMAN_RUN,
      '--name',
      name,
      '--network',
      'host',
      '--user',
      `${sc.runAsUser}:${sc.runAsGroup}`,
      '--read-only',
      '--read-only-tmpfs=false',
      '--tmpfs',
      `/tmp:rw,size=${String(tmpSize).replace(/Mi$/, 'm')}`,
      '--cap-drop',
      'ALL',
      '--security-opt',
      'no-new-privileges',
      '-v',
      `${sa}:${SA_DIR}:ro`,
      ...env.flatMap((v, i) => (i % 2 === 0 ? ['--env', `${v}=${env[i + 1]}`] : [])),
      IMAGE,
      ...args,
    ];

    const logs: LogLine[] = [];
    let rest = '';
    let other = '';
    const child: ChildProcess = spawn('podman', podmanArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const onData = (chunk: string): void => {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        try {
          logs.push(JSON.parse(line) as LogLine);
        } catch {
          other = (other + line + '\n').slice(-4000);
        }
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    const explain = (): string =>
      `${other}\n${logs
        .slice(-30)
        .map((l) => JSON.stringify(l))
        .join('\n')}`;
    try {
      await waitFor(
        'the operator in the image ready (/readyz 200 from the host)',
        async () => {
          if (child.exitCode !== null)
            throw new Error(`podman exited ${child.exitCode}: ${explain()}`);
          return (
            (await fetch(`http://127.0.0.1:${probePort}/readyz`).catch(() => undefined))?.status ===
            200
          );
        },
        90_000,
      );
      // In-cluster configuration: no kubeconfig exists in the image, the token file is the
      // credential, and the namespace file names the Lease's namespace.
      const lease = await waitFor('the Lease taken', async () => {
        const r = await kubectl(['get', 'lease', LEASE, '-n', own, '-o', 'json'], {
          allowFail: true,
        });
        const holder =
          r.code === 0
            ? (JSON.parse(r.stdout) as { spec: { holderIdentity?: string } }).spec.holderIdentity
            : undefined;
        return holder || undefined;
      });
      const acquired = logs.find((l) => l.msg === 'acquired leader lease');
      expect(acquired?.identity, explain()).to.equal(lease);

      await create(ns, pod('priv', PRIVILEGED));
      const recorded = await annotated(ns, 'priv', 60_000);
      expect(recorded.metadata.annotations?.[VIOLATIONS]).to.equal(
        `[{"policy":"${policy}","rule":"pss.privileged","severity":"critical"}]`,
      );
      expect(recorded.metadata.labels?.[VIOLATING]).to.equal('true');

      // Secure metrics, as the Deployment serves them: HTTPS, a metrics-reader token or nothing.
      const url = `https://127.0.0.1:${metricsPort}/metrics`;
      expect((await scrape(url, undefined)).status).to.equal(401);
      const scraped = await scrape(url, await metricsReaderToken());
      expect(scraped.status).to.equal(200);
      const metrics = scraped.body;
      expect(
        metricValue(metrics, 'deployguard_violations_total', {
          rule: 'pss.privileged',
          namespace: ns,
        }),
      ).to.equal(1);
      expect(metricValue(metrics, 'deployguard_build_info')).to.be.greaterThan(0);
    } finally {
      // SIGTERM, as the kubelet sends it; the operator releases the Lease and exits 0.
      await podman(['stop', '--time', '30', name], { allowFail: true, timeoutMs: 45_000 });
      await podman(['rm', '-f', name], { allowFail: true });
    }
    expect(await exited, explain()).to.equal(0);
    expect(
      logs.some((l) => l.msg === 'released leader lease'),
      explain(),
    ).to.equal(true);
    expect(await leastPrivilegeProblems('image', logs)).to.deep.equal([]);
    expect(
      logs.filter((l) => l.level === 'error'),
      explain(),
    ).to.deep.equal([]);
  });

  // make release's own checks (the archive loads as this image into podman and into a throwaway
  // containerd with the README's ctr line; chart, install.yaml, npm package and SBOM are version
  // V) fail it; here it must pass on the image under test and leave every artefact, summed.
  it('releases it: make release writes every artefact of the version, each checked', async function () {
    this.timeout(10 * 60_000);
    // make release itself: it stages and builds what it ships (a fresh clone whose image was
    // already in the store has no staged context for make sbom otherwise).
    const rel = await run('make', ['release'], { allowFail: true, timeoutMs: 9 * 60_000 });
    expect(rel.code, rel.stderr).to.equal(0);
    expect(rel.stderr).to.match(/ctr images import: \S+\/deployguard:\S+, the built image/);
    const out = join(repoRoot, 'dist-release');
    const name = `deployguard-${pkg.version}`;
    const sums = readFileSync(join(out, 'sha256sums.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[1])
      .sort();
    expect(sums).to.deep.equal(
      ['.cdx.json', '.crd.yaml', '.image.tar', '.install.yaml', '.npm.tgz', '.tgz']
        .map((ext) => `${name}${ext}`)
        .sort(),
    );
    const check = await run('sha256sum', ['--quiet', '-c', 'sha256sums.txt'], {
      allowFail: true,
      cwd: out,
    });
    expect(check.code, check.stdout + check.stderr).to.equal(0);
  });
});
