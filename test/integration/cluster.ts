// Helpers for integration tests against the real local control plane started by
// test/cluster/up.sh (etcd + kube-apiserver + controller-manager + scheduler + kwok).
// See docs/control-plane.md.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';

export const repoRoot: string = fileURLToPath(new URL('../..', import.meta.url));
export const clusterDir: string = process.env.DEPLOYGUARD_CLUSTER_DIR ?? join(repoRoot, '.cluster');
/** Admin kubeconfig (group system:masters). */
export const kubeconfigPath: string = join(clusterDir, 'kubeconfig');
/** Kubeconfig of `deployguard-test-user` (group `deployguard:test-users`), which has no RBAC bindings. */
export const unprivilegedKubeconfigPath: string = join(clusterDir, 'unprivileged.kubeconfig');
export const kubectlPath: string = join(clusterDir, 'bin', 'kubectl');
const clusterScripts = join(repoRoot, 'test', 'cluster');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the process's standard input. */
  input?: string;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFail?: boolean;
  /** Kill the process after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Pass the child's output through to this process's stderr as it comes. */
  inheritOutput?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Working directory (default: the repository). */
  cwd?: string;
}

/** Runs a program and collects its output; rejects on a non-zero exit unless allowFail. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repoRoot,
      env: opts.env ?? process.env,
      stdio: [
        'pipe',
        opts.inheritOutput ? 'inherit' : 'pipe',
        opts.inheritOutput ? 'inherit' : 'pipe',
      ],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) {
        reject(
          new Error(
            `${cmd} ${args.join(' ')} exited with ${signal ?? code}\n${stderr.trim() || stdout.trim()}`,
          ),
        );
      } else {
        resolve(result);
      }
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
  });
}

export interface KubectlOptions extends RunOptions {
  /** Kubeconfig to use instead of the admin one. */
  kubeconfig?: string;
  namespace?: string;
}

/** Runs the cluster's kubectl (same version as the API server) with the admin kubeconfig. */
export function kubectl(args: readonly string[], opts: KubectlOptions = {}): Promise<RunResult> {
  const base = ['--kubeconfig', opts.kubeconfig ?? kubeconfigPath];
  if (opts.namespace) base.push('--namespace', opts.namespace);
  return run(kubectlPath, [...base, ...args], opts);
}

/** A KubeConfig for @kubernetes/client-node, admin by default. */
export function loadKubeConfig(path: string = kubeconfigPath): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Values recorded by up.sh in .cluster/cluster.env (ports, binary paths, versions). */
export function clusterEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(clusterDir, 'cluster.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

/** True when .cluster/kubeconfig reaches an API server that reports itself ready. */
export async function clusterReady(): Promise<boolean> {
  if (!existsSync(kubeconfigPath) || !existsSync(kubectlPath)) return false;
  const r = await kubectl(['get', '--raw', '/readyz', '--request-timeout=5s'], {
    allowFail: true,
    timeoutMs: 10_000,
  }).catch(() => undefined);
  return r?.code === 0 && r.stdout.trim() === 'ok';
}

/**
 * Makes sure a cluster is up: reuses a ready one, otherwise runs test/cluster/up.sh (the script
 * behind `make cluster-up`, which builds missing binaries first). Returns whether it started one.
 */
export async function ensureCluster(): Promise<{ started: boolean }> {
  if (await clusterReady()) return { started: false };
  await run('bash', [join(clusterScripts, 'up.sh')], {
    inheritOutput: true,
    timeoutMs: 80 * 60_000,
  });
  if (!(await clusterReady()))
    throw new Error('cluster-up finished but the API server is not ready');
  return { started: true };
}

/** Stops the cluster (test/cluster/down.sh, the script behind `make cluster-down`). */
export async function stopCluster(): Promise<void> {
  await run('bash', [join(clusterScripts, 'down.sh')], { inheritOutput: true, timeoutMs: 120_000 });
}

/** Polls fn until it returns a value other than undefined/false, or throws after timeoutMs. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const namespacesToDelete: string[] = [];

/**
 * Creates a namespace with a unique name for the current test and waits until its `default`
 * ServiceAccount exists (pods cannot be created before). It is deleted after the test by the root
 * afterEach hook, so call this inside a test or a beforeEach.
 */
export async function freshNamespace(
  prefix = 'dg-test',
  labels: Record<string, string> = {},
): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`.slice(0, 63);
  const manifest = {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'deployguard.dev/test': 'true', ...labels } },
  };
  await kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest) });
  namespacesToDelete.push(name);
  await waitFor(`ServiceAccount default in ${name}`, async () => {
    const r = await kubectl(['get', 'serviceaccount', 'default', '-n', name, '-o', 'name'], {
      allowFail: true,
    });
    return r.code === 0;
  });
  return name;
}

/** Deletes the namespaces made by freshNamespace (without waiting for them to be gone). */
export async function deleteFreshNamespaces(): Promise<void> {
  const names = namespacesToDelete.splice(0);
  if (names.length === 0 || process.env.DEPLOYGUARD_KEEP_NAMESPACES === '1') return;
  await kubectl(['delete', 'namespace', '--wait=false', '--ignore-not-found', ...names], {
    allowFail: true,
  });
}

/**
 * Writes a kubeconfig that authenticates as a ServiceAccount with a short-lived token, so a test
 * can run code with exactly the RBAC bound to that account (for example the operator's own
 * config/rbac/). Returns the file's path.
 */
export async function serviceAccountKubeconfig(
  namespace: string,
  serviceAccount: string,
  duration = '1h',
): Promise<string> {
  const token = (
    await kubectl(['create', 'token', serviceAccount, '-n', namespace, `--duration=${duration}`])
  ).stdout.trim();
  const admin = loadKubeConfig();
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('admin kubeconfig has no current cluster');
  const ca = readFileSync(join(clusterDir, 'pki', 'ca.crt')).toString('base64');
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'deployguard-test',
        cluster: { server: cluster.server, 'certificate-authority-data': ca },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster: 'deployguard-test', user, namespace } }],
    'current-context': user,
  };
  const dir = join(clusterDir, 'test-kubeconfigs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${namespace}.${serviceAccount}.kubeconfig`);
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path;
}

let crdInstalled: Promise<void> | undefined;

/**
 * Installs the ContainerDeploymentPolicy CRD from crds/ (server-side apply, idempotent) and waits
 * until it is served. Once per process: tests run in file order, and on a fresh cluster nothing
 * else may have installed it yet.
 */
export function installCrd(): Promise<void> {
  crdInstalled ??= (async () => {
    const file = join(repoRoot, 'crds', 'deployguard.dev_containerdeploymentpolicies.yaml');
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', file]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/containerdeploymentpolicies.deployguard.dev',
      '--timeout=60s',
    ]);
  })();
  return crdInstalled;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a server a test starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
