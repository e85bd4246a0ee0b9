// Attackers write pod specs: nothing they can put in one may make the indicators throw or stall.
import { expect } from 'chai';
import fc from 'fast-check';
import { indicatorRules } from '../../../src/engine/rules/indicators.ts';
import { judge } from './judge.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';
import { cpuMs, cpuRatio } from '../../support/cpu.ts';

const checkIndicators = (pod: PodView) => judge(indicatorRules, pod, true);

// Fragments of the idioms, so random text often gets past the substring gates into the regexes
// and the command splitter.
const fragment = fc.constantFrom(
  'sh -i',
  ' >& ',
  '/dev/tcp/',
  'nc ',
  ' -e ',
  'curl ',
  'wget ',
  ' | ',
  '|| ',
  '$(',
  '<(',
  ')',
  'chmod +x ',
  './',
  'socket',
  '.connect(',
  'dup2',
  'python',
  'perl',
  'base64 -d',
  'mkfifo',
  'stratum+tcp://',
  'xmrig',
  '--donate-level',
  ' -o ',
  ' -u ',
  '"',
  "'",
  '\\',
  '${IFS}',
  '>',
  ';',
  '&&',
  '\n',
  ' ',
  '-c',
  'bash',
  '/proc/self/fd/',
  '..',
  '.',
);
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.array(fragment, { maxLength: 30 }).map((a) => a.join('')),
);
const words = fc.array(text, { maxLength: 6 });
const handler = fc.record({ exec: fc.record({ command: words }) }, { requiredKeys: [] });
const container = fc.record(
  {
    name: fc.string(),
    image: text,
    command: words,
    args: words,
    workingDir: text,
    livenessProbe: handler,
    readinessProbe: handler,
    lifecycle: fc.record({ postStart: handler, preStop: handler }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

describe('properties: indicators never throw', () => {
  it('on pods built from arbitrary strings and idiom fragments', () => {
    fc.assert(
      fc.property(
        fc.array(container, { maxLength: 3 }),
        fc.array(container, { maxLength: 2 }),
        (cs, init) => {
          const s = sanitizePod({
            kind: 'Pod',
            metadata: { name: 'p' },
            spec: { containers: cs, initContainers: init },
          });
          const findings = checkIndicators(s!.pod);
          for (const f of findings) {
            expect(f.rule).to.match(/^indicator\./);
            expect(f.message.length).to.be.below(600);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('on arbitrary JSON that sanitizes to a pod', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (spec, c) => {
        const s = sanitizePod({ kind: 'Pod', spec, metadata: {} });
        if (s) checkIndicators(s.pod);
        const t = sanitizePod({ kind: 'Pod', spec: { containers: [c] } });
        if (t) checkIndicators(t.pod);
      }),
      { numRuns: 1000 },
    );
  });

  it('in linear time on long hostile command lines', () => {
    const pieces = [
      'curl x | ',
      'nc -e ',
      'sh -i >& /dev/tcp/a/1 ',
      '$(curl ',
      'socket.connect( ',
      'a | ',
    ];
    for (const piece of pieces) {
      const small = piece.repeat(Math.floor(16384 / piece.length));
      const large = piece.repeat(Math.floor(65536 / piece.length) - 1);
      const podWith = (arg: string) =>
        sanitizePod({
          kind: 'Pod',
          spec: { containers: [{ name: 'c', image: 'i', args: [arg, arg] }] },
        })!.pod;
      const smallPod = podWith(small);
      const largePod = podWith(large);
      const once = cpuMs(() => checkIndicators(largePod));
      expect(once, `${piece}: 64 KiB x2 took ${once.toFixed(1)} ms`).to.be.below(2000);
      // Linear is 4x; quadratic would be 16x.
      const r = cpuRatio(
        () => checkIndicators(smallPod),
        () => checkIndicators(largePod),
      );
      // Under 20 µs for 64 KiB (the gates found nothing to run): nothing to scale.
      if (r.largeMs >= 0.02)
        expect(
          r.ratio,
          `${piece} ratio (${r.smallMs.toFixed(2)} -> ${r.largeMs.toFixed(2)} ms)`,
        ).to.be.below(12);
    }
  });
});
