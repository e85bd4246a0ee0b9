// The npm package as a CI pipeline uses it: `npx deployguard evaluate` from the packed tarball, in
// an empty directory, on each Node line package.json's engines names (scripts/npm-package.sh
// fetches those Nodes from the npm registry). It must install with no warning at all and print
// exactly what the source CLI prints. No cluster is involved.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot, run } from './cluster.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
};
const script = join(repoRoot, 'scripts', 'npm-package.sh');
const examples = join(repoRoot, 'examples');
// A fixed time: the example policies' schedule windows judge by the clock.
const args = [
  '-p',
  join(examples, 'policies.yaml'),
  '-f',
  join(examples, 'attacks.yaml'),
  '--at',
  '2026-06-01T12:00:00Z',
];

describe('the npm package (npx deployguard evaluate)', function () {
  this.timeout(600_000);
  let work: string;
  let tarball: string;
  let nodes: string[];
  let expected: { table: string; json: string };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dg-npm-'));
    tarball = (
      await run(script, ['pack', join(work, 'pack')], { timeoutMs: 180_000 })
    ).stdout.trim();
    nodes = (await run(script, ['nodes'])).stdout.trim().split('\n');
    const src = ['--no-warnings=ExperimentalWarning', join(repoRoot, 'src', 'cli.ts'), 'evaluate'];
    const node = join(repoRoot, 'node_modules', '.bin', 'node');
    const table = await run(node, [...src, ...args], { allowFail: true });
    const json = await run(node, [...src, ...args, '-o', 'json'], { allowFail: true });
    expect(table.code, table.stderr).to.equal(1);
    expected = { table: table.stdout, json: json.stdout };
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('claims in engines exactly the Node lines it is checked on', () => {
    const engines = pkg.engines.node;
    const claimed = [...String(engines).matchAll(/\^(\d+)\.\d+\.\d+/g)].map((m) => m[1]);
    expect(claimed.join(' || ')).to.equal(engines.replace(/\^(\d+)\.\d+\.\d+/g, '$1'));
    expect(claimed).to.deep.equal(nodes.map((v) => v.split('.')[0]));
  });

  it('packs the built CLI and the CRD, and no sources or tests', async () => {
    const list = (await run('tar', ['-tzf', tarball])).stdout.split('\n').filter(Boolean);
    expect(list).to.include.members([
      'package/dist/cli.js',
      'package/dist/main.js',
      'package/crds/deployguard.dev_containerdeploymentpolicies.yaml',
      'package/package.json',
      'package/LICENSE',
    ]);
    expect(list.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).to.deep.equal([]);
    expect(list.filter((f) => /^package\/(src|test|bench|scripts)\//.test(f))).to.deep.equal([]);
  });

  it('runs evaluate with npx on every supported Node, silently, as the source CLI does', async () => {
    const cache = join(work, 'npm-cache');
    for (const version of nodes) {
      const node = (await run(script, ['node', version], { timeoutMs: 180_000 })).stdout.trim();
      const cwd = mkdtempSync(join(work, `run-${version}-`));
      // Only this Node on PATH before the system's: npx runs under it, as a user's would.
      const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}` };
      const npx = (extra: string[]) =>
        run(
          'npx',
          [
            '--yes',
            '--cache',
            cache,
            `--package=${tarball}`,
            'deployguard',
            'evaluate',
            ...args,
            ...extra,
          ],
          { cwd, env, allowFail: true, timeoutMs: 240_000 },
        );
      const table = await npx([]);
      expect(table.stderr, `Node ${version}: stderr`).to.equal('');
      expect(table.code, `Node ${version}: exit code`).to.equal(1);
      expect(table.stdout, `Node ${version}: table`).to.equal(expected.table);
      const json = await npx(['-o', 'json']);
      expect(json.stderr, `Node ${version}: stderr`).to.equal('');
      expect(json.stdout, `Node ${version}: json`).to.equal(expected.json);
      const version_ = await run(
        'npx',
        ['--yes', '--cache', cache, `--package=${tarball}`, 'deployguard', 'version'],
        { cwd, env, allowFail: true, timeoutMs: 240_000 },
      );
      expect(version_.stderr, `Node ${version}: stderr`).to.equal('');
      expect(version_.stdout.trim()).to.equal(pkg.version);
    }
  });
});
