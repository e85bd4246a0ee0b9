// The engine's purity is enforced by lint (eslint.config.js), not by habit: prove the rule bites.
import { expect } from 'chai';
import { snippetLinter } from '../support/lint.ts';

const eslint = snippetLinter();

async function messages(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('lint: src/engine stays pure', function () {
  this.timeout(60_000);
  const cases: [string, string][] = [
    [
      "import { KubeConfig } from '@kubernetes/client-node';\nexport const k = KubeConfig;\n",
      'Kubernetes client',
    ],
    ["import { Registry } from 'prom-client';\nexport const r = Registry;\n", 'metrics'],
    ["import winston from 'winston';\nexport const w = winston;\n", 'logging'],
    ["import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", 'I/O'],
    ["import { x } from '../runtime/manager.ts';\nexport const y = x;\n", 'controller'],
    ["import { x } from '../remediation/guards.ts';\nexport const y = x;\n", 'remediation'],
    ["import { x } from '../observability/metrics.ts';\nexport const y = x;\n", 'observability'],
    ['export const t = Date.now();\n', 'clock'],
    ['export const t = new Date();\n', 'clock'],
    ['export const e = process.env.HOME;\n', 'environment'],
  ];
  for (const [code, what] of cases) {
    it(`rejects ${what} in src/engine`, async () => {
      const m = await messages(code, 'src/engine/example.ts');
      expect(
        m.some((x) => x.startsWith('no-restricted') || x.startsWith('layers/boundaries')),
        m.join('\n'),
      ).to.equal(true);
    });
  }
  it('allows the same code outside the engine', async () => {
    const m = await messages(cases[0]?.[0] ?? '', 'src/kube/example.ts');
    expect(m.filter((x) => x.startsWith('no-restricted'))).to.deep.equal([]);
  });
  it('allows the engine its own modules and src/api', async () => {
    const m = await messages(
      "import type { Policy } from '../api/policy.ts';\nimport { evaluate } from './evaluate.ts';\nexport type P = Policy;\nexport const e = evaluate;\n",
      'src/engine/example.ts',
    );
    expect(m).to.deep.equal([]);
  });
});
