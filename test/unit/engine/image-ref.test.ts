import { expect } from 'chai';
import { clip, hasAllowedPrefix, parseImage } from '../../../src/engine/image-ref.ts';

describe('image references', () => {
  const normalized: [string, string][] = [
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.20', 'docker.io/library/alpine:3.20'],
    ['library/alpine', 'docker.io/library/alpine:latest'],
    ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine:1', 'docker.io/library/alpine:1'],
    ['registry.local:5000/team/app:v2', 'registry.local:5000/team/app:v2'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:1', 'localhost:5000/app:1'],
    ['ghcr.io/org/app@sha256:' + 'a'.repeat(64), 'ghcr.io/org/app@sha256:' + 'a'.repeat(64)],
    [
      'ghcr.io/org/app:1.2@sha256:' + 'b'.repeat(64),
      'ghcr.io/org/app:1.2@sha256:' + 'b'.repeat(64),
    ],
    ['[::1]:5000/app:1', '[::1]:5000/app:1'],
    ['EVIL.io/miner:1', 'evil.io/miner:1'],
    ['Registry.Example.COM:5000/app', 'registry.example.com:5000/app:latest'],
  ];
  for (const [input, want] of normalized) {
    it(`normalises ${input}`, () => {
      const r = parseImage(input);
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      if (r.ok) expect(r.ref.normalized).to.equal(want);
    });
  }

  it('splits registry, repository, tag and digest', () => {
    const r = parseImage('registry.local:5000/team/app:v2@sha256:' + 'c'.repeat(64));
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.ref.registry).to.equal('registry.local:5000');
    expect(r.ref.repository).to.equal('team/app');
    expect(r.ref.tag).to.equal('v2');
    expect(r.ref.digest).to.equal('sha256:' + 'c'.repeat(64));
  });

  for (const bad of [
    '',
    'UPPER/Case',
    'app:',
    'app@sha256:zz',
    'a b',
    'app:-bad',
    'registry.io//x',
  ]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(parseImage(bad).ok).to.equal(false);
    });
  }

  it('matches registry prefixes only on a boundary', () => {
    expect(hasAllowedPrefix('registry.example.com/app:1', 'registry.example.com')).to.equal(true);
    expect(hasAllowedPrefix('registry.example.com.evil.io/app:1', 'registry.example.com')).to.equal(
      false,
    );
    expect(hasAllowedPrefix('docker.io/library/alpine:latest', 'docker.io/library/')).to.equal(
      true,
    );
    expect(hasAllowedPrefix('docker.io/attacker/alpine:latest', 'docker.io/library/')).to.equal(
      false,
    );
    expect(
      hasAllowedPrefix('docker.io/library/alpine:latest', 'docker.io/library/alpine'),
    ).to.equal(true);
    expect(
      hasAllowedPrefix('docker.io/library/alpine2:latest', 'docker.io/library/alpine'),
    ).to.equal(false);
  });

  it('shows attacker text in messages short, escaping what could forge a terminal line', () => {
    expect(clip('evil\u202eexe.jpg\n\u001b[2J')).to.equal('evil\\u202eexe.jpg\\u000a\\u001b[2J');
    expect(clip('x'.repeat(100), 10)).to.equal(`${'x'.repeat(10)}…`);
  });
});
