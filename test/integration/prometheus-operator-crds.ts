// The Prometheus Operator's CRDs (ServiceMonitor, PodMonitor, PrometheusRule), so the API server
// can judge the chart's monitoring objects against their real schemas. Taken from the pinned
// upstream Go module with `go mod download` (as test/support/upstream-psa.ts fetches its
// fixtures), never copied into the repository.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kubectl } from './cluster.ts';

const MODULE = 'github.com/prometheus-operator/prometheus-operator';
const VERSION = 'v0.85.0';
const KINDS = ['servicemonitors', 'podmonitors', 'prometheusrules'];

async function moduleDir(): Promise<string> {
  let out: string;
  try {
    ({ stdout: out } = await promisify(execFile)(
      'go',
      ['mod', 'download', '-json', `${MODULE}@${VERSION}`],
      // Outside any go.mod, so the repository's tool modules don't get involved.
      { cwd: tmpdir(), timeout: 600_000, env: { ...process.env, GO111MODULE: 'on' } },
    ));
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `go mod download ${MODULE}@${VERSION} failed (the Prometheus Operator's CRDs come from ` +
        `it): ${err.stdout ?? ''}${err.stderr ?? err.message}`,
      { cause: e },
    );
  }
  const dir = (JSON.parse(out) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download gave no module directory for ${MODULE}: ${out}`);
  return dir;
}

export const prometheusOperatorCrds = {
  /** Installs the three CRDs that are missing; returns the names of those it installed. */
  async install(): Promise<string[]> {
    const names = KINDS.map((k) => `${k}.monitoring.coreos.com`);
    const present = await kubectl(['get', 'crd', ...names, '--ignore-not-found', '-o', 'name']);
    const missing = names.filter((n) => !present.stdout.includes(`/${n}`));
    if (missing.length === 0) return [];
    const dir = join(await moduleDir(), 'example', 'prometheus-operator-crd');
    const files = missing.map((n) => join(dir, `monitoring.coreos.com_${n.split('.')[0]}.yaml`));
    for (const f of files) if (!existsSync(f)) throw new Error(`${MODULE}@${VERSION} has no ${f}`);
    // Server-side: the CRDs are too large for client-side apply's last-applied annotation.
    await kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', f])], {
      timeoutMs: 120_000,
    });
    await kubectl(
      ['wait', '--for=condition=Established', '--timeout=60s', ...missing.map((n) => `crd/${n}`)],
      { timeoutMs: 90_000 },
    );
    return missing;
  },

  /** Deletes the CRDs install() installed (not ones that were there before). */
  async remove(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await kubectl(['delete', 'crd', '--wait=false', '--ignore-not-found', ...names], {
      allowFail: true,
    });
  },
};
