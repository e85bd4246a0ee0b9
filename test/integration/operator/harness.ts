// Runs the real operator (`node src/cli.ts run`) as a child process against the local control
// plane, as its own ServiceAccount with exactly the RBAC in config/rbac/, and gives tests what an
// on-call engineer would look at: its JSON logs, /metrics, /readyz, and the cluster itself.
// Tests that run operators are declared with operatorTest(): after the body, the operators it
// started are stopped and any request their RBAC refused fails that very test (least privilege is
// proven by use; least-privilege.ts). The root afterEach only cleans up (stops stragglers, deletes
// policies and bindings) and never throws, so one test's problem can't skip the rest of the suite.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { installCrd, kubectl, repoRoot, serviceAccountKubeconfig, waitFor } from '../cluster.ts';
import { leastPrivilegeProblems } from './least-privilege.ts';

export const SERVICE_ACCOUNT = 'deployguard-controller-manager';
const CLUSTER_ROLE = 'deployguard-manager';

export type LogLine = Record<string, unknown> & { level: string; msg: string };

function rbacDocs(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(join(repoRoot, 'config', 'rbac', file), 'utf8'))
    .map((d) => d.toJSON() as Record<string, unknown>)
    .filter(Boolean);
}

const bindingsToDelete: string[] = [];

/**
 * The operator's ServiceAccount in `namespace`, bound to config/rbac/role.yaml's ClusterRole and
 * leader_election_role.yaml's Role (applied as written, namespace swapped). Returns a kubeconfig
 * that authenticates as it.
 */
export async function operatorAccount(
  namespace: string,
  /** Also admission_role.yaml's roles, as an operator serving the admission webhook needs. */
  opts: { admission?: boolean } = {},
): Promise<string> {
  const docs: Record<string, unknown>[] = [];
  const files = ['service_account.yaml', 'role.yaml', 'leader_election_role.yaml'];
  if (opts.admission) files.push('admission_role.yaml');
  for (const file of files) {
    for (const d of rbacDocs(file)) {
      const meta = d.metadata as Record<string, unknown>;
      if (d.kind !== 'ClusterRole') meta.namespace = namespace;
      docs.push(d);
    }
  }
  const binding = `deployguard-test-${namespace}`;
  docs.push(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CLUSTER_ROLE },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'deployguard-leader-election', namespace },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'deployguard-leader-election',
      },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }],
    },
  );
  bindingsToDelete.push(binding);
  if (opts.admission) {
    const subjects = [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }];
    docs.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `${binding}-admission` },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'deployguard-admission',
        },
        subjects,
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'deployguard-admission', namespace },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'Role',
          name: 'deployguard-admission',
        },
        subjects,
      },
    );
    bindingsToDelete.push(`${binding}-admission`);
  }
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }),
  });
  return serviceAccountKubeconfig(namespace, SERVICE_ACCOUNT);
}

/** Where a scraper lives: a ServiceAccount bound to config/rbac's deployguard-metrics-reader. */
export const SCRAPER_NAMESPACE = 'deployguard-test-scraper';
let scraperToken: Promise<string> | undefined;

/** A bearer token allowed get /metrics, as Prometheus' would be (made once per run). */
export function metricsReaderToken(): Promise<string> {
  scraperToken ??= (async () => {
    const docs = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SCRAPER_NAMESPACE } },
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'prometheus', namespace: SCRAPER_NAMESPACE },
      },
      ...rbacDocs('metrics_reader_role.yaml'),
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'deployguard-test-metrics-reader' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'deployguard-metrics-reader',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: SCRAPER_NAMESPACE }],
      },
    ];
    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }),
    });
    const { stdout } = await kubectl([
      'create',
      'token',
      'prometheus',
      '-n',
      SCRAPER_NAMESPACE,
      '--duration=2h',
    ]);
    return stdout.trim();
  })();
  scraperToken.catch(() => (scraperToken = undefined));
  return scraperToken;
}

/**
 * GET over HTTPS as a scraper would: the operator's certificate is self-signed (Prometheus skips
 * verifying it too), the identity is the bearer token.
 */
export function scrape(
  url: string,
  token: string | undefined,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        rejectUnauthorized: false,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface OperatorOptions {
  /** The operator's own namespace: its Lease lives there (and it is protected). */
  namespace: string;
  kubeconfig: string;
  args?: string[];
  /** A name for this replica in test output. */
  name?: string;
  /** Options for node itself, before the script (e.g. --cpu-prof for a benchmark). */
  nodeArgs?: string[];
  /** Environment beyond PATH and HOME (e.g. what the Deployment sets, for a benchmark). */
  env?: Record<string, string>;
  /** A command that runs node (e.g. one that enters a memory cgroup first, for a benchmark). */
  command?: string[];
}

const running = new Set<OperatorProcess>();
/** Every operator started since the current test began (exited ones included). */
const startedInTest: OperatorProcess[] = [];

export class OperatorProcess {
  readonly logs: LogLine[] = [];
  readonly name: string;
  readonly exited: Promise<number | null>;
  metricsUrl = '';
  probeUrl = '';
  private readonly child: ChildProcess;
  private stderrTail = '';

  private constructor(opts: OperatorOptions) {
    this.name = opts.name ?? 'operator';
    const args = [
      ...(opts.nodeArgs ?? []),
      join(repoRoot, 'src', 'cli.ts'),
      'run',
      `--kubeconfig=${opts.kubeconfig}`,
      '--metrics-bind-address=127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
      '--log-format=json',
      '--log-level=debug',
      `--leader-election-namespace=${opts.namespace}`,
      // Only this test's policies (see applyPolicy): operators of other tests, run at the same
      // time during development, and leftovers never interfere.
      `--policy-selector=${TEST_OWNER_LABEL}=${opts.namespace}`,
      ...(opts.args ?? []),
    ];
    const [file, ...pre] = [...(opts.command ?? []), process.execPath];
    this.child = spawn(file as string, [...pre, ...args], {
      cwd: repoRoot,
      // Nothing from the test environment leaks into the operator's configuration.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    const onData = (chunk: string): void => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.stderrTail = (this.stderrTail + line + '\n').slice(-4000);
        }
      }
    };
    this.child.stdout?.setEncoding('utf8').on('data', onData);
    this.child.stderr?.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    running.add(this);
    startedInTest.push(this);
    void this.exited.then(() => running.delete(this));
  }

  /** Starts the operator and waits until /readyz says ready (caches synced; policies loaded when leading). */
  static async start(opts: OperatorOptions, readyTimeoutMs = 30_000): Promise<OperatorProcess> {
    // Without the CRD the policy watch can't sync, and the operator never becomes ready.
    await installCrd();
    const op = new OperatorProcess(opts);
    await op.waitForLog((l) => l.msg === 'serving health probes', readyTimeoutMs);
    const address = (l: LogLine | undefined): string =>
      `${String(l?.scheme ?? 'http')}://${String(l?.address)}`;
    op.probeUrl = address(op.logs.find((l) => l.msg === 'serving health probes'));
    op.metricsUrl = address(op.logs.find((l) => l.msg === 'serving metrics'));
    await waitFor(`${op.name} ready`, () => op.ready(), readyTimeoutMs);
    return op;
  }

  async ready(): Promise<boolean> {
    try {
      return (await fetch(`${this.probeUrl}/readyz`)).status === 200;
    } catch {
      return false;
    }
  }

  /** /metrics as Prometheus reads it: over TLS with a metrics-reader token (plain when insecure). */
  async metrics(timeoutMs = 10_000): Promise<string> {
    const url = `${this.metricsUrl}/metrics`;
    if (!url.startsWith('https:')) return (await fetch(url)).text();
    const r = await scrape(url, await metricsReaderToken(), timeoutMs);
    if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.body}`);
    return r.body;
  }

  /** The value of one series in /metrics, e.g. metric('deployguard_actions_total', {action: 'DeletePod'}); 0 when absent. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await this.metrics(), name, labels);
  }

  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitFor(
      `${this.name} log line`,
      async () => {
        found = this.logs.find(pred);
        if (!found && this.child.exitCode !== null)
          throw new Error(
            `${this.name} exited (${this.child.exitCode}): ${this.stderrTail}` +
              this.errors()
                .slice(-5)
                .map((l) => JSON.stringify(l))
                .join('\n'),
          );
        return found !== undefined;
      },
      timeoutMs,
      50,
    );
    return found as LogLine;
  }

  /**
   * A full garbage collection of the main thread, through the inspector (start the operator with
   * nodeArgs ['--inspect=127.0.0.1:0']): what its heap retains, for a benchmark, without any
   * debug switch in the operator itself.
   */
  async collectGarbage(timeoutMs = 30_000): Promise<void> {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(this.stderrTail)?.[1];
    if (!url) throw new Error(`${this.name}: no inspector (start it with --inspect=127.0.0.1:0)`);
    const ws = new WebSocket(url);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${url}: no answer`)), timeoutMs);
        ws.onerror = () => reject(new Error(`${url}: inspector connection failed`));
        ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
        ws.onmessage = (m) => {
          if ((JSON.parse(String(m.data)) as { id?: number }).id !== 1) return;
          clearTimeout(timer);
          resolve();
        };
      });
    } finally {
      ws.close();
    }
  }

  /**
   * A heap snapshot of the main thread, written into `dir` (start the operator with nodeArgs
   * ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`]); returns once the file stops
   * growing.
   */
  async heapSnapshot(dir: string, timeoutMs = 5 * 60_000): Promise<void> {
    const before = new Set(await readdir(dir));
    this.child.kill('SIGUSR2');
    let size = -1;
    await waitFor(
      'heap snapshot written',
      async () => {
        const file = (await readdir(dir)).find(
          (f) => !before.has(f) && f.endsWith('.heapsnapshot'),
        );
        if (!file) return false;
        const now = (await stat(join(dir, file))).size;
        const done = now > 0 && now === size;
        size = now;
        return done;
      },
      timeoutMs,
      2000,
    );
  }

  /** The operator's process ID, e.g. for its /proc figures. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How it ended, once it has: the exit code or signal and the last of what it wrote to stderr. */
  get exit(): string | undefined {
    const { exitCode, signalCode } = this.child;
    if (exitCode === null && signalCode === null) return undefined;
    return `exited (${exitCode ?? signalCode}): ${this.stderrTail.trim().slice(-1000)}`;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM and wait for a graceful exit (SIGKILL after the timeout). Returns the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** Writes the operator made (its "api write" debug lines), optionally only those whose path contains `pathPart`. */
  writes(pathPart = ''): LogLine[] {
    return this.logs.filter((l) => l.msg === 'api write' && String(l.path).includes(pathPart));
  }

  /** Log lines at error level, for failure messages. */
  errors(): LogLine[] {
    return this.logs.filter((l) => l.level === 'error');
  }
}

/** Sums the samples of `name` whose labels include `labels`. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const p of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      have[p[1] as string] = p[2] as string;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

const policiesToDelete = new Set<string>();
export const TEST_OWNER_LABEL = 'deployguard.dev/test-owner';

/**
 * Creates (or replaces) a ContainerDeploymentPolicy seen only by the operators whose own namespace
 * is `owner` (a label their --policy-selector matches); deleted after the test.
 */
export async function applyPolicy(
  owner: string,
  name: string,
  spec: Record<string, unknown>,
  /** Who writes it (e.g. a policy author's ServiceAccount); default the admin. */
  as: { kubeconfig?: string } = {},
): Promise<void> {
  policiesToDelete.add(name);
  await installCrd();
  await kubectl(['apply', '-f', '-'], {
    kubeconfig: as.kubeconfig,
    input: JSON.stringify({
      apiVersion: 'deployguard.dev/v1alpha1',
      kind: 'ContainerDeploymentPolicy',
      metadata: { name, labels: { [TEST_OWNER_LABEL]: owner } },
      spec,
    }),
  });
}

/**
 * A test that runs operators: after its body (passed or not), the operators it started are
 * stopped, and a request their RBAC refused, and still refuses, fails this test.
 */
export function operatorTest(
  title: string,
  body: (this: Mocha.Context) => Promise<void>,
): Mocha.Test {
  return it(title, async function () {
    startedInTest.length = 0;
    let failure: unknown;
    try {
      await body.call(this);
    } catch (err) {
      failure = err;
    }
    const ops = startedInTest.splice(0);
    for (const op of ops) await op.stop();
    if (failure !== undefined) throw failure;
    const problems: string[] = [];
    for (const op of ops) problems.push(...(await leastPrivilegeProblems(op.name, op.logs)));
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
}

/** Root afterEach: stop any operator still running, delete the test's policies and bindings. Never throws. */
export async function cleanUpOperators(): Promise<void> {
  for (const op of [...running]) await op.stop().catch(() => undefined);
  const policies = [...policiesToDelete];
  policiesToDelete.clear();
  if (policies.length > 0)
    await kubectl(['delete', 'containerdeploymentpolicy', '--ignore-not-found', ...policies], {
      allowFail: true,
    });
  const bindings = bindingsToDelete.splice(0);
  if (bindings.length > 0)
    await kubectl(['delete', 'clusterrolebinding', '--ignore-not-found', ...bindings], {
      allowFail: true,
    });
}
