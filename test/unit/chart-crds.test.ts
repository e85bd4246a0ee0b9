// The Helm chart ships the CRD in charts/deployguard/crds/ (Helm installs that directory before the
// templates, and never upgrades or deletes it). It must be the very file the kustomize install and
// the npm package use, byte for byte: `make crd` writes both copies.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CRD_PATH } from '../../src/api/crd.ts';

const root = join(import.meta.dirname, '..', '..');
const chartCrds = join(root, 'charts', 'deployguard', 'crds');

describe('charts/deployguard/crds', () => {
  it('holds exactly the CRDs of crds/, byte-identical (run `make crd` if not)', () => {
    const yaml = (dir: string): string[] =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort();
    // crds/kustomization.yaml is kustomize's, not a CRD; Helm would apply it as an object.
    const expected = yaml(join(root, 'crds')).filter((f) => f !== 'kustomization.yaml');
    expect(expected).to.include(CRD_PATH.replace(/^crds\//, ''));
    expect(readdirSync(chartCrds).sort()).to.deep.equal(expected);
    for (const f of expected) {
      const original = readFileSync(join(root, 'crds', f));
      const copy = readFileSync(join(chartCrds, f));
      expect(
        copy.equals(original),
        `${f} differs: run \`make crd\` and commit the result`,
      ).to.equal(true);
    }
  });
});
