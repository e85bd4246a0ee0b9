import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { VERSION_STRING } from '../../src/version.ts';

describe('package', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  it('reports the version package.json declares', () =>
    expect(VERSION_STRING).to.equal(pkg.version));
  it('runs the tests on the pinned Node 24', () =>
    expect(process.versions.node.split('.')[0]).to.equal('24'));
  it('wires the deployguard bin to the built CLI, which starts with a shebang', () => {
    expect(pkg.bin.deployguard).to.equal('dist/cli.js');
    expect(
      readFileSync(new URL('../../src/cli.ts', import.meta.url), 'utf8').startsWith(
        '#!/usr/bin/env node\n',
      ),
    ).to.equal(true);
  });
});
