import { expect } from 'chai';
import fc from 'fast-check';
import {
  compileSafeRegex,
  MAX_PATTERN_LENGTH,
  MAX_PROGRAM_SIZE,
  type SafeRegex,
} from '../../../src/engine/safe-regex.ts';
import { cpuRatio, fastestCpuMs } from '../../support/cpu.ts';

function compiled(pattern: string): SafeRegex {
  const r = compileSafeRegex(pattern);
  if (!r.ok) throw new Error(r.message);
  return r.regex;
}

function message(pattern: string): string {
  const r = compileSafeRegex(pattern);
  if (r.ok) throw new Error(`expected ${pattern} to be rejected`);
  return r.message;
}

/** The least CPU of a few runs, in ms: a busy machine doesn't inflate this thread's own CPU. */
const fastest = fastestCpuMs;

/** Deterministic pseudo-random text over `alphabet`. */
function noise(n: number, alphabet: string): string {
  let x = 7;
  let s = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += alphabet.charAt((x >> 16) % alphabet.length);
  }
  return s;
}

describe('safe-regex: compileSafeRegex', () => {
  it('takes Go/RE2 syntax, including inline flags', () => {
    const re = compiled(String.raw`(?i)nsenter\s+-t\s*1`);
    expect(re.source).to.equal(String.raw`(?i)nsenter\s+-t\s*1`);
    expect(re.test('sh -c NSENTER -t 1 -m -u -i -n sh')).to.equal(true);
    expect(re.test('nsenter --help')).to.equal(false);
    expect(compiled('(?P<tool>kubectl)').test('kubectl get pods')).to.equal(true);
    expect(compiled(String.raw`\Qa.b\E`).test('axb')).to.equal(false);
  });

  it('searches unanchored; ^ and $ anchor to the whole text', () => {
    expect(compiled('curl').test('sh -c curl x')).to.equal(true);
    expect(compiled('^curl').test('sh -c curl x')).to.equal(false);
    expect(compiled('x$').test('sh -c curl x')).to.equal(true);
  });

  it('finds the leftmost match with its position', () => {
    expect(compiled(String.raw`nc\s+-e`).find('a; nc  -e sh')).to.deep.equal({
      index: 3,
      text: 'nc  -e',
    });
    expect(compiled('zzz').find('abc')).to.equal(undefined);
  });

  it('rejects invalid syntax with a readable message, not a stack trace', () => {
    expect(message('[')).to.equal('invalid RE2 regular expression: missing closing ]: `[` in "["');
    expect(message('a{1001}')).to.contain('invalid repeat count');
    expect(message('a**')).to.contain('invalid nested repetition operator');
  });

  it('explains that lookaround and backreferences are not RE2', () => {
    for (const p of ['(?=x)', '(?!x)', '(?<=x)y', String.raw`(a)\1`]) {
      expect(message(p)).to.contain('no lookahead, lookbehind or backreferences');
    }
    expect(message(String.raw`\C`)).to.not.contain('lookahead');
  });

  it('bounds pattern length and compiled size', () => {
    expect(compileSafeRegex(`[${'a'.repeat(MAX_PATTERN_LENGTH - 2)}]`).ok).to.equal(true);
    expect(message('a'.repeat(MAX_PATTERN_LENGTH + 1))).to.contain(`at most ${MAX_PATTERN_LENGTH}`);
    expect(message('(?s)(.{0,100}x){5}')).to.contain(`at most ${MAX_PROGRAM_SIZE}`);
  });

  it('clips a long pattern in messages', () => {
    const m = message(`[${'a'.repeat(900)}`);
    expect(m.length).to.be.below(400);
  });

  it('never throws, whatever the pattern', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.stringMatching(/^[()[\]{}*+?|\\^$.a-z0-9]*$/),
        ),
        (p) => {
          const r = compileSafeRegex(p);
          if (r.ok) {
            r.regex.test(p);
            r.regex.find(p);
          } else {
            expect(r.message).to.be.a('string').and.not.equal('');
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('safe-regex: linear time on hostile input', () => {
  const timings: string[] = [];
  after(() => {
    if (process.env.DEPLOYGUARD_SHOW_TIMINGS)
      console.log(timings.map((t) => `      ${t}`).join('\n'));
  });
  // Patterns that backtrack catastrophically in JS RegExp (`/(a+)+$/` on 30 a's and a "!" already
  // takes seconds; each extra character doubles it), over the longest string the engine admits.
  const cases: [string, (n: number) => string][] = [
    ['(a+)+$', (n) => `${'a'.repeat(n)}!`],
    ['(a|a)*b', (n) => 'a'.repeat(n)],
    ['(a|aa)+$', (n) => `${'a'.repeat(n)}!`],
    [String.raw`(\w+\s?)+$`, (n) => `${'ab '.repeat(n / 3)}!`],
    ['(x+x+)+y', (n) => 'x'.repeat(n)],
    ['(?s)(.*a){12}', (n) => 'a'.repeat(n)],
    // Defeats the DFA cache, so the NFA simulation does measurable work per character.
    ['(?s)(.{0,10}x){3}!', (n) => `${noise(n, 'abx')}!`],
  ];

  for (const [pattern, input] of cases) {
    it(`${pattern} over 64 KiB: fast, and ~4x the 16 KiB time`, () => {
      const re = compiled(pattern);
      const small = input(16 * 1024);
      const large = input(64 * 1024);
      const tLarge = fastest(() => re.test(large));
      expect(tLarge, `64 KiB took ${tLarge.toFixed(1)} ms`).to.be.below(1000);
      // Linear is 4x; quadratic would be 16x.
      const r = cpuRatio(
        () => re.test(small),
        () => re.test(large),
      );
      timings.push(
        `${pattern}: 16 KiB ${r.smallMs.toFixed(3)} ms, 64 KiB ${r.largeMs.toFixed(3)} ms`,
      );
      // Under 20 µs for 64 KiB (a literal the text lacks, say): nothing to scale.
      if (r.largeMs >= 0.02) expect(r.ratio, `ratio for ${pattern}`).to.be.below(12);
    });
  }
});
