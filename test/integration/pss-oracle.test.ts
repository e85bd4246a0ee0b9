// The real API server's Pod Security Admission as an oracle for deployguard's own PSS checks at
// Kubernetes 1.36 semantics (`version: latest`). Upstream ships pass/fail fixtures only up to v1.35;
// here every fixture of the newest minor is sent, as a server-side dry run, to a 1.36 API server
// enforcing the level, and the server's verdict (admitted or refused by PodSecurity) must equal the
// engine's (no pss.* finding, or some).
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { PssLevel } from '../../src/api/policy.ts';
import { checkPodSecurity } from '../../src/engine/rules/pod-security/index.ts';
import { sanitizePod } from '../../src/engine/sanitize.ts';
import { downloadModule } from '../support/upstream-psa.ts';
import { freshNamespace, loadKubeConfig } from './cluster.ts';

interface Verdict {
  file: string;
  server: 'admitted' | 'refused' | 'invalid' | string;
  engine: 'admitted' | 'refused';
}

function newestMinorDir(levelDir: string): string {
  const minors = readdirSync(levelDir)
    .map((d) => /^v1\.(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  return join(levelDir, `v1.${Math.max(...minors)}`);
}

async function serverVerdict(api: CoreV1Api, namespace: string, pod: V1Pod): Promise<string> {
  // Upstream names its fixtures after the check (seccompprofile_restricted1): not valid pod names.
  const name = (pod.metadata?.name ?? 'fixture').toLowerCase().replace(/[^a-z0-9-]/g, '-');
  try {
    await api.createNamespacedPod({
      namespace,
      body: { ...pod, metadata: { ...pod.metadata, name, namespace } },
      dryRun: 'All',
    });
    return 'admitted';
  } catch (e) {
    const body = String((e as { body?: unknown }).body ?? (e as Error).message);
    if (body.includes('violates PodSecurity')) return 'refused';
    // Field validation runs before admission: a fixture that 1.36 validation refuses (procMount
    // Unmasked now needs hostUsers: false) never reaches PodSecurity, so it can't be compared.
    if (body.includes('"reason":"Invalid"')) return 'invalid';
    return `error: ${body.slice(0, 300)}`;
  }
}

for (const level of ['baseline', 'restricted'] as PssLevel[]) {
  describe(`pod-security oracle: the ${level} level of a real 1.36 API server agrees with the engine`, function () {
    this.timeout(300_000);
    const verdicts: Verdict[] = [];

    before(async function () {
      const dir = newestMinorDir(join(downloadModule(), 'test', 'testdata', level));
      const ns = await freshNamespace(`dg-oracle-${level}`, {
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/enforce-version': 'latest',
      });
      const api = loadKubeConfig().makeApiClient(CoreV1Api);
      const files = ['pass', 'fail'].flatMap((sub) =>
        readdirSync(join(dir, sub))
          .filter((f) => f.endsWith('.yaml'))
          .map((f) => join(dir, sub, f)),
      );
      // A few at a time: quick, without flooding a 2-core machine.
      for (let i = 0; i < files.length; i += 8) {
        await Promise.all(
          files.slice(i, i + 8).map(async (file) => {
            const raw = parse(readFileSync(file, 'utf8')) as V1Pod;
            const view = sanitizePod(raw)?.pod;
            if (!view) throw new Error(`${file} is not a pod`);
            const findings = checkPodSecurity(view, { level, version: 'latest', exemptChecks: [] });
            verdicts.push({
              file: file.slice(dir.length + 1),
              server: await serverVerdict(api, ns, raw),
              engine: findings.length > 0 ? 'refused' : 'admitted',
            });
          }),
        );
      }
    });

    it('judges every upstream fixture of the newest minor', () => {
      expect(verdicts.length).to.be.greaterThan(40);
      const errors = verdicts.filter((v) => v.server.startsWith('error'));
      expect(errors, JSON.stringify(errors, null, 1)).to.deep.equal([]);
      // Fixtures that 1.36 validation refuses are few, all fail fixtures, and the engine refuses them too.
      const invalid = verdicts.filter((v) => v.server === 'invalid');
      expect(invalid.length).to.be.below(verdicts.length / 20);
      for (const v of invalid) expect(v, v.file).to.deep.include({ engine: 'refused' });
      expect(invalid.every((v) => v.file.startsWith('fail/'))).to.equal(true);
    });

    it('admits and refuses exactly the pods the API server admits and refuses', () => {
      const compared = verdicts.filter((v) => v.server === 'admitted' || v.server === 'refused');
      const disagreements = compared.filter((v) => v.server !== v.engine);
      expect(disagreements, JSON.stringify(disagreements, null, 1)).to.deep.equal([]);
      // Both verdicts occur, so agreement is not agreement on "everything passes".
      expect(new Set(compared.map((v) => v.server))).to.deep.equal(
        new Set(['admitted', 'refused']),
      );
    });
  });
}
