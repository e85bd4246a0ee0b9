// The upstream pod-security-admission module, fetched with the Go toolchain at test time: its
// fixtures are the oracle for our Pod Security Standards checks (unit conformance test) and, sent
// to a real API server, for the server's own admission (integration test). Never copied into the repo.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The upstream release whose semantics we claim; bump together with LATEST_PSS_MINOR. */
export const PSA_MODULE = 'k8s.io/pod-security-admission';
export const PSA_VERSION = 'v0.36.6';

export function downloadModule(): string {
  let out: string;
  try {
    out = execFileSync('go', ['mod', 'download', '-json', `${PSA_MODULE}@${PSA_VERSION}`], {
      // Outside any go.mod, so the repo's Go modules (test/cluster) don't get involved.
      cwd: tmpdir(),
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, GO111MODULE: 'on' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (err.code === 'ENOENT')
      throw new Error(
        `the Go toolchain ("go") is not on PATH: it is needed to fetch ${PSA_MODULE}@${PSA_VERSION}, ` +
          'whose fixtures this conformance test runs. Install Go (https://go.dev/dl/) and re-run.',
        { cause: e },
      );
    throw new Error(
      `go mod download ${PSA_MODULE}@${PSA_VERSION} failed: ${err.stdout ?? ''}${err.stderr ?? err.message}`,
      { cause: e },
    );
  }
  const dir = (JSON.parse(out) as { Dir?: string; Error?: string }).Dir;
  if (!dir || !existsSync(join(dir, 'test', 'testdata')))
    throw new Error(`go mod download gave no usable module directory for ${PSA_MODULE}: ${out}`);
  return dir;
}
