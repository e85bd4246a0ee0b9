// requiredLiteral gates deniedPatterns: a pattern whose literal is absent from an ASCII text is
// never run on it. A false negative there would let a denied command through, so: every text
// re2js matches holds the literal, and checkCommands with the gate finds exactly what running
// every pattern finds.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import fc from 'fast-check';
import { parse } from 'yaml';
import { commandRules, type CompiledPattern } from '../../../src/engine/rules/commands.ts';
import { judge } from './judge.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import {
  compileSafeRegex,
  requiredLiteral,
  type SafeRegex,
} from '../../../src/engine/safe-regex.ts';
import { view } from '../builders.ts';

const checkCommands = (pod: PodView, patterns: readonly CompiledPattern[]) =>
  judge(commandRules, pod, patterns);

// Pieces of RE2 syntax: literals (with the letters RE2 case-folds beyond ASCII), classes,
// quantifiers, groups, alternation, flags, anchors and escapes. Many concatenations don't parse;
// those are skipped.
const piece = fc.constantFrom(
  'a',
  'b',
  'ab',
  'k',
  's',
  'K',
  'S',
  'nsenter',
  ' ',
  '-',
  '/',
  '1',
  '.',
  '[a-c]',
  '[^a]',
  '[[:alpha:]]',
  '[]a]',
  '\\s',
  '\\S',
  '\\d',
  '\\w',
  '\\b',
  '\\.',
  '\\-',
  '\\x41',
  '\\Qa.\\E',
  '\\pL',
  '*',
  '+',
  '?',
  '*?',
  '+?',
  '??',
  '{2}',
  '{1,3}',
  '{0,}',
  '{,2}',
  '(',
  ')',
  '(?:',
  '(?P<n>',
  '|',
  '(?i)',
  '(?s)',
  '(?-i)',
  '(?i:',
  '^',
  '$',
  '\\A',
  '\\z',
);
const pattern = fc.array(piece, { minLength: 1, maxLength: 10 }).map((p) => p.join(''));

// Text from the same letters in both cases, separators, and the non-ASCII letters `(?i)k` and
// `(?i)s` also match (U+212A KELVIN SIGN, U+017F LONG S).
const textPiece = fc.oneof(
  fc.constantFrom('a', 'b', 'A', 'B', 'ab', 'AB', 'k', 'K', 's', 'S', 'nsenter', 'NSenter'),
  fc.constantFrom(' ', '-', '/', '1', '.', ']', '\n', 'a.', '\u212a', '\u017f'),
  fc.string({ maxLength: 3 }),
);
const text = fc.array(textPiece, { maxLength: 12 }).map((p) => p.join(''));

const isAscii = (s: string): boolean => [...s].every((ch) => ch.charCodeAt(0) < 128);

function compiled(source: string): SafeRegex | undefined {
  const r = compileSafeRegex(source);
  return r.ok ? r.regex : undefined;
}

describe('engine/safe-regex requiredLiteral (the deniedPatterns prefilter)', () => {
  it('never rules out an ASCII text that re2js matches', () => {
    fc.assert(
      fc.property(pattern, fc.array(text, { minLength: 1, maxLength: 8 }), (source, texts) => {
        const re = compiled(source);
        if (re === undefined) return;
        expect(re.literal).to.equal(requiredLiteral(source));
        if (re.literal === undefined) return;
        expect(re.literal).to.equal(re.literal.toLowerCase());
        for (const t of texts) {
          if (!isAscii(t) || !re.test(t)) continue;
          expect(t.toLowerCase(), `${source} matched ${JSON.stringify(t)}`).to.include(re.literal);
        }
      }),
      { numRuns: 20000 },
    );
  });

  it('finds the literal runs of ordinary patterns', () => {
    const cases: [string, string | undefined][] = [
      ['(?i)nsenter\\s+(-t|--target)\\s*1\\b', 'nsenter'],
      ['(?i)chroot\\s+/host', 'chroot'],
      ['CHROOT', 'chroot'],
      ['abc*', 'ab'],
      ['ab?cd', 'cd'],
      ['x{0,3}yz', 'yz'],
      ['xy+z', 'xyz'],
      ['[ab]cd', 'cd'],
      ['\\.kube/config', 'kube/config'],
      ['a(bcd)e', 'a'],
    ];
    for (const [source, literal] of cases)
      expect(requiredLiteral(source), source).to.equal(literal);
  });

  it('gives up where it would have to reason about alternatives or unmodelled syntax', () => {
    for (const source of [
      'ab|cd',
      '\\Qab\\E',
      '\\x41bc',
      '\\pLab',
      'ab{',
      '(ab',
      'ab)',
      '[ab',
      '.*',
      '',
    ]) {
      expect(requiredLiteral(source), source).to.equal(undefined);
    }
  });
});

interface Sample {
  container: { command?: unknown; args?: unknown };
}

function corpusLines(): string[][] {
  const lines: string[][] = [];
  for (const name of ['benign', 'malicious']) {
    const url = new URL(`../../fixtures/indicators/${name}.yaml`, import.meta.url);
    for (const s of parse(readFileSync(url, 'utf8')) as Sample[]) {
      const words = [s.container.command, s.container.args]
        .filter(Array.isArray)
        .flat()
        .map(String);
      if (words.length > 0) lines.push(words);
    }
  }
  return lines;
}

/** The same patterns without their literals: checkCommands then runs every one on every text. */
function ungated(patterns: readonly CompiledPattern[]): CompiledPattern[] {
  return patterns.map(({ source, regex }) => ({
    source,
    regex: { source, test: (s) => regex.test(s), find: (s) => regex.find(s), literal: undefined },
  }));
}

function podOf(command: string[], args: string[], probe: string[]): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      containers: [
        { name: 'a', image: 'x:1', command, args, livenessProbe: { exec: { command: probe } } },
      ],
    },
  };
}

describe('engine/commands: the literal gate changes no finding', () => {
  const realistic = [
    '(?i)nsenter\\s+(-t|--target)\\s*1\\b',
    '(?i)chroot\\s+/host',
    'curl\\s+[^|]*\\|\\s*(ba)?sh',
    '(?i)/dev/tcp/',
    'base64\\s+(-d|--decode)',
    'xmrig',
    'docker\\.sock',
    '\\bnc\\s+-e\\b',
    '(?i)mkfifo',
    '^sh -c',
  ];
  const patterns = realistic.map((source) => {
    const r = compileSafeRegex(source);
    if (!r.ok) throw new Error(r.message);
    return { source, regex: r.regex };
  });

  it('on the indicator corpus command lines', () => {
    const lines = corpusLines();
    expect(lines.length).to.be.greaterThan(50);
    for (const words of lines) {
      const pod = view(podOf(words.slice(0, 1), words.slice(1), words));
      expect(checkCommands(pod, patterns)).to.deep.equal(checkCommands(pod, ungated(patterns)));
    }
  });

  it('on random patterns and random texts', () => {
    const words = fc.array(text, { maxLength: 4 });
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 4 }),
        words,
        words,
        words,
        (sources, command, args, probe) => {
          const ps = sources.flatMap((source) => {
            const regex = compiled(source);
            return regex === undefined ? [] : [{ source, regex }];
          });
          if (ps.length === 0) return;
          const pod = view(podOf(command, args, probe));
          expect(checkCommands(pod, ps)).to.deep.equal(checkCommands(pod, ungated(ps)));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
