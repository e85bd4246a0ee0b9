// Upstream conformance: the pass/fail pod fixtures that k8s.io/pod-security-admission ships for every
// level and Kubernetes minor, fetched with the Go toolchain at test time (never copied into the
// repo), must judge the same here. A pass fixture yields no pss.* finding; a fail fixture yields a
// finding of the check its file name names (or of the restricted check that replaces it).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { PssLevel } from '../../../src/api/policy.ts';
import {
  activePssChecks,
  checkPodSecurity,
  LATEST_PSS_MINOR,
  OLDEST_PSS_MINOR,
  PSS_CHECK_IDS,
} from '../../../src/engine/rules/pod-security/index.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';
import { downloadModule, PSA_MODULE, PSA_VERSION } from '../../support/upstream-psa.ts';

/** File names are the lower-cased check ID plus an index: `seccompprofile_baseline2.yaml`. */
const ID_BY_LOWER = new Map(PSS_CHECK_IDS.map((id) => [id.toLowerCase(), id]));
function checkOfFixture(file: string): string | undefined {
  return ID_BY_LOWER.get(file.replace(/\d+\.yaml$/, ''));
}

function loadPod(path: string) {
  const pod = sanitizePod(parse(readFileSync(path, 'utf8')))?.pod;
  if (!pod) throw new Error(`${path} is not a pod`);
  return pod;
}

function yamlFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
}

describe('pod-security conformance with k8s.io/pod-security-admission', function () {
  let moduleDir: string | undefined;
  let setupError: Error | undefined;
  try {
    moduleDir = downloadModule();
  } catch (e) {
    setupError = e as Error;
  }
  // A missing toolchain is a failure, not a skip: without it nothing here proves conformance.
  it(`fetches ${PSA_MODULE}@${PSA_VERSION} with the Go toolchain`, function () {
    if (setupError) throw setupError;
    expect(moduleDir).to.be.a('string');
  });
  if (!moduleDir) return;
  const root = moduleDir;
  const testdata = join(root, 'test', 'testdata');

  it('implements exactly the check IDs upstream registers', function () {
    const ids = new Set<string>();
    const policyDir = join(root, 'policy');
    for (const f of readdirSync(policyDir)) {
      if (!/^check_.*\.go$/.test(f) || f.endsWith('_test.go')) continue;
      const src = readFileSync(join(policyDir, f), 'utf8');
      for (const m of src.matchAll(/\bID:\s+"(\w+)"|CheckID\s*=\s*"(\w+)"/g))
        ids.add((m[1] ?? m[2])!);
    }
    expect([...ids].sort()).to.deep.equal([...PSS_CHECK_IDS].sort());
  });

  // Upstream generates fixture directories only up to the newest minor with a policy change
  // (and fails its own tests otherwise), so a newer minor is judged by the newest directory.
  const shipped = (level: string) =>
    readdirSync(join(testdata, level))
      .map((d) => /^v1\.(\d+)$/.exec(d)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number);

  for (const level of ['baseline', 'restricted'] as const satisfies readonly PssLevel[]) {
    const minors = shipped(level);
    describe(level, function () {
      it(`upstream ships fixtures for v1.${OLDEST_PSS_MINOR} to at most v1.${LATEST_PSS_MINOR}`, function () {
        expect(Math.min(...minors)).to.equal(OLDEST_PSS_MINOR);
        expect(Math.max(...minors)).to.be.at.most(LATEST_PSS_MINOR);
      });
      const versions = [
        ...Array.from({ length: LATEST_PSS_MINOR + 1 }, (_, m) => `v1.${m}`),
        'latest',
      ];
      for (const version of versions) {
        const minor = version === 'latest' ? LATEST_PSS_MINOR : Number(version.slice(3));
        const dirMinor = Math.max(...minors.filter((m) => m <= minor));
        const dir = join(testdata, level, `v1.${dirMinor}`);
        const from =
          dirMinor === minor && version !== 'latest' ? '' : ` (fixtures of v1.${dirMinor})`;
        const rule = { level, version, exemptChecks: [] };

        it(`${version}${from}: pass fixtures have no finding`, function () {
          const files = yamlFiles(join(dir, 'pass'));
          expect(files, 'pass fixtures').to.have.length.above(0);
          const wrong: string[] = [];
          for (const f of files) {
            const found = checkPodSecurity(loadPod(join(dir, 'pass', f)), rule);
            if (found.length > 0)
              wrong.push(`${f}: ${found.map((x) => `${x.rule} at ${x.path}`).join('; ')}`);
          }
          expect(wrong, `${wrong.length}/${files.length} pass fixtures got findings`).to.deep.equal(
            [],
          );
        });

        it(`${version}${from}: fail fixtures fail their check`, function () {
          const files = yamlFiles(join(dir, 'fail'));
          expect(files, 'fail fixtures').to.have.length.above(0);
          const active = activePssChecks(level, minor);
          const wrong: string[] = [];
          for (const f of files) {
            const check = checkOfFixture(f);
            if (!check) {
              wrong.push(`${f}: names no known check`);
              continue;
            }
            // At restricted a fixture of an overridden baseline check fails the replacing check.
            const expected = new Set(
              [check, ...active.filter((a) => a.overrides.includes(check)).map((a) => a.id)].map(
                (id) => `pss.${id}`,
              ),
            );
            const found = checkPodSecurity(loadPod(join(dir, 'fail', f)), rule);
            if (!found.some((x) => expected.has(x.rule)))
              wrong.push(
                `${f}: expected ${[...expected].join(' or ')}, got [${found.map((x) => x.rule).join(', ')}]`,
              );
          }
          expect(wrong, `${wrong.length}/${files.length} fail fixtures not caught`).to.deep.equal(
            [],
          );
        });
      }
    });
  }
});
