import { expect } from 'chai';
import {
  commandRules,
  commandLine,
  type CompiledPattern,
} from '../../../src/engine/rules/commands.ts';
import { judge } from './judge.ts';
import { compileSafeRegex } from '../../../src/engine/safe-regex.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';
import { cpuMs } from '../../support/cpu.ts';

const checkCommands = (pod: PodView, patterns: readonly CompiledPattern[]) =>
  judge(commandRules, pod, patterns);

function patterns(...sources: string[]): CompiledPattern[] {
  return sources.map((source) => {
    const r = compileSafeRegex(source);
    if (!r.ok) throw new Error(r.message);
    return { source, regex: r.regex };
  });
}

function pod(...containers: Record<string, unknown>[]): PodView {
  const spec = { containers: containers.map((c, i) => ({ name: `c${i}`, image: 'app:1', ...c })) };
  return sanitizePod({ kind: 'Pod', metadata: { name: 'p' }, spec })!.pod;
}

const NSENTER = String.raw`(?i)nsenter\s+-t\s*1`;

describe('rule: command.denied', () => {
  it('joins command and args with single spaces', () => {
    expect(commandLine(['sh', '-c', 'nsenter -t 1 -m sh'])).to.equal('sh -c nsenter -t 1 -m sh');
  });

  it('matches a pattern across command and args, and names the pattern by index', () => {
    const f = checkCommands(
      pod({ command: ['nsenter'], args: ['-t', '1', '-m', '-u', '-i', '-n', 'sh'] }),
      patterns('xmrig', NSENTER),
    );
    expect(f).to.have.length(1);
    expect(f[0]).to.include({
      rule: 'command.denied',
      container: 'c0',
      path: 'spec.containers[0].command',
    });
    expect(f[0]?.message).to.equal(
      String.raw`command line matches deniedPatterns[1] "(?i)nsenter\s+-t\s*1": "nsenter -t 1"`,
    );
  });

  it('points at args when the match lies in them alone', () => {
    const f = checkCommands(
      pod({ command: ['sh', '-c'], args: ['NSENTER -t1 -m sh'] }),
      patterns(NSENTER),
    );
    expect(f.map((x) => x.path)).to.deep.equal(['spec.containers[0].args']);
    const g = checkCommands(pod({ args: ['nsenter', '-t', '1'] }), patterns(NSENTER));
    expect(g.map((x) => x.path)).to.deep.equal(['spec.containers[0].args']);
  });

  it('searches unanchored, and anchors mean the whole command line', () => {
    const p = pod({ command: ['/bin/sh', '-c', 'exec app'] });
    expect(checkCommands(p, patterns('exec app'))).to.have.length(1);
    expect(checkCommands(p, patterns('^exec'))).to.deep.equal([]);
    expect(checkCommands(p, patterns('^/bin/sh -c exec app$'))).to.have.length(1);
  });

  it('reports one finding per place, for the first matching pattern', () => {
    const f = checkCommands(pod({ command: ['nsenter', '-t', '1'] }), patterns('nsenter', NSENTER));
    expect(f).to.have.length(1);
    expect(f[0]?.message).to.contain('deniedPatterns[0] "nsenter"');
  });

  it('checks probe and lifecycle exec commands, every container', () => {
    const f = checkCommands(
      pod(
        { command: ['app'] },
        {
          command: ['app'],
          livenessProbe: { exec: { command: ['nsenter', '-t', '1', 'true'] } },
          lifecycle: { postStart: { exec: { command: ['sh', '-c', 'nsenter -t 1 -a'] } } },
        },
      ),
      patterns(NSENTER),
    );
    expect(f.map((x) => `${x.container} ${x.path}`)).to.deep.equal([
      'c1 spec.containers[1].livenessProbe.exec.command',
      'c1 spec.containers[1].lifecycle.postStart.exec.command',
    ]);
    expect(f[0]?.message).to.match(/^livenessProbe.exec.command matches deniedPatterns\[0\]/);
  });

  it('finds init and ephemeral containers', () => {
    const raw = {
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        containers: [{ name: 'a', image: 'x' }],
        initContainers: [{ name: 'i', image: 'x', command: ['nsenter', '-t', '1'] }],
        ephemeralContainers: [{ name: 'e', image: 'x', args: ['nsenter -t1'] }],
      },
    };
    const f = checkCommands(sanitizePod(raw)!.pod, patterns(NSENTER));
    expect(f.map((x) => x.path)).to.deep.equal([
      'spec.initContainers[0].command',
      'spec.ephemeralContainers[0].args',
    ]);
  });

  it('does nothing without patterns or commands', () => {
    expect(checkCommands(pod({ command: ['nsenter'] }), [])).to.deep.equal([]);
    expect(checkCommands(pod({}), patterns('.*'))).to.deep.equal([]);
  });

  it('quotes at most ~100 characters of the matched text, control characters escaped', () => {
    const f = checkCommands(pod({ command: ['x'.repeat(5000), '\u001b[2J'] }), patterns('.+'));
    expect(f[0]?.message.length).to.be.below(260);
    expect(f[0]?.message).to.not.contain('\u001b');
  });

  it('stays fast on 2 x 60 KiB of hostile args (within the pod text budget)', () => {
    const arg = `${'a'.repeat(60 * 1024 - 1)}!`;
    let f: unknown[] = [];
    const ms = cpuMs(
      () =>
        (f = checkCommands(
          pod({ command: ['sh', '-c', arg], args: [arg] }),
          patterns('(a+)+$', '(a|aa)+b'),
        )),
    );
    expect(f).to.deep.equal([]);
    expect(ms).to.be.below(1000);
  });
});
