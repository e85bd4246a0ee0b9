// `make sbom`: the CycloneDX SBOM of the image, written beside it in dist-image/. The npm part is
// `npm sbom --sbom-format cyclonedx --omit dev`, run on the staged application's package-lock.json
// (--package-lock-only: the devDependencies are absent there, which npm sbom would otherwise
// refuse), and checked against the packages really staged; to it are added what npm does not know of: the Node binary
// and the Debian packages (read from the staged /var/lib/dpkg/status.d), and the image itself as
// the SBOM's subject. Needs scripts/image/stage-rootfs.sh to have run (make image does).
//   node scripts/image/sbom.ts [CONTEXT] [OUT]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type Component = Record<string, unknown> & { 'bom-ref': string };
interface Bom {
  metadata: { component?: Component; [k: string]: unknown };
  components?: Component[];
  dependencies?: { ref: string; dependsOn?: string[] }[];
  [k: string]: unknown;
}

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
};
const context = process.argv[2] ?? join(root, 'dist-image', 'context');
const out = process.argv[3] ?? join(root, 'dist-image', `${pkg.name}-${pkg.version}.cdx.json`);
const app = join(context, 'app', 'app');
const base = join(context, 'base');
if (!existsSync(join(app, 'package.json')))
  throw new Error(
    `${context} holds no staged image: run scripts/image/stage-rootfs.sh (make image)`,
  );

const bom = JSON.parse(
  execFileSync(
    'npm',
    ['sbom', '--sbom-format', 'cyclonedx', '--omit', 'dev', '--package-lock-only'],
    {
      cwd: app,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  ),
) as Bom;

// The npm components must be exactly the packages staged in the image. npm sbom --omit dev
// (npm 11.19) leaves out production packages that a devDependency needs too (debug, js-yaml,
// @types/node, ...); those are added from their staged package.json. A listed package that was
// not staged is an error.
function stagedPackages(dir: string, found = new Map<string, Component>()): Map<string, Component> {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (entry.startsWith('@')) {
      stagedPackages(path, found);
      continue;
    }
    const manifest = join(path, 'package.json');
    if (!existsSync(manifest)) continue;
    const p = JSON.parse(readFileSync(manifest, 'utf8')) as {
      name: string;
      version: string;
      license?: string;
      description?: string;
    };
    const ref = `${p.name}@${p.version}`;
    found.set(ref, {
      'bom-ref': ref,
      type: 'library',
      name: p.name,
      version: p.version,
      scope: 'required',
      ...(p.description ? { description: p.description } : {}),
      purl: `pkg:npm/${p.name.replace('@', '%40')}@${p.version}`,
      ...(p.license ? { licenses: [{ license: { id: p.license } }] } : {}),
    });
    stagedPackages(join(path, 'node_modules'), found);
  }
  return found;
}
const staged = stagedPackages(join(app, 'node_modules'));
const listed = new Set((bom.components ?? []).map((c) => `${String(c.name)}@${String(c.version)}`));
const onlyListed = [...listed].filter((p) => !staged.has(p));
if (onlyListed.length > 0)
  throw new Error(`npm sbom lists packages the image does not hold: ${onlyListed.join(', ')}`);
const missed = [...staged.values()].filter((c) => !listed.has(c['bom-ref']));
bom.components = [...(bom.components ?? []), ...missed];

// npm names the root after its directory; it is the deployguard package.
const npmRoot: Component = {
  ...(bom.metadata.component ?? { 'bom-ref': `${pkg.name}@${pkg.version}` }),
  type: 'application',
  name: pkg.name,
};
const nodeBin = join(base, 'nodejs', 'bin', 'node');
const nodeVersion = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim().slice(1);
const node: Component = {
  'bom-ref': `nodejs@${nodeVersion}`,
  type: 'application',
  name: 'node',
  version: nodeVersion,
  description: 'Node.js runtime (/nodejs/bin/node), the binary of the npm package node-linux-*',
  purl: `pkg:generic/nodejs@${nodeVersion}`,
  hashes: [
    { alg: 'SHA-256', content: createHash('sha256').update(readFileSync(nodeBin)).digest('hex') },
  ],
  licenses: [{ license: { id: 'MIT' } }],
};
const statusDir = join(base, 'var', 'lib', 'dpkg', 'status.d');
const debs: Component[] = readdirSync(statusDir)
  .sort()
  .map((file) => {
    const fields = new Map<string, string>();
    for (const line of readFileSync(join(statusDir, file), 'utf8').split('\n')) {
      const m = /^([A-Za-z-]+): (.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) fields.set(m[1], m[2]);
    }
    const name = fields.get('Package') ?? file;
    const version = fields.get('Version') ?? '';
    const arch = fields.get('Architecture') ?? '';
    return {
      'bom-ref': `deb:${name}@${version}`,
      type: 'library',
      name,
      version,
      description: fields.get('Description') ?? '',
      purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}`,
    };
  });
const image: Component = {
  'bom-ref': `${pkg.name}-image@${pkg.version}`,
  type: 'container',
  name: pkg.name,
  version: pkg.version,
  licenses: [{ license: { id: pkg.license } }],
};

bom.metadata.component = image;
bom.components = [npmRoot, node, ...debs, ...(bom.components ?? [])];
bom.dependencies = [
  { ref: image['bom-ref'], dependsOn: [npmRoot, node, ...debs].map((c) => c['bom-ref']) },
  ...(bom.dependencies ?? []),
];
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(bom, null, 2) + '\n');
console.log(
  `wrote ${out}: ${bom.components.length} components (${staged.size} npm packages, ` +
    `${missed.length} of them missed by npm sbom; ${debs.length} Debian packages; Node ${nodeVersion})`,
);
