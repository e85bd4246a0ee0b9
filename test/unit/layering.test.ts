// The layering of src/ is enforced by lint (eslint.config.js, eslint/layers.js), not by habit:
// prove each boundary bites, and that the imports each layer may make pass.
import { expect } from 'chai';
import { ESLint } from 'eslint';
import { repoRoot as cwd, snippetLinter } from '../support/lint.ts';

const eslint = snippetLinter();

async function layerErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'layers/boundaries' || m.fatal)
    .map((m) => `${m.ruleId}: ${m.message}`);
}

const imp = (spec: string): string => `import { x } from '${spec}';\nexport const y = x;\n`;

/** [importing file, import specifier, why it is refused] */
const REFUSED: [string, string, string][] = [
  ['src/base/example.ts', '../kube/api.ts', 'base imports nothing'],
  ['src/api/example.ts', '../engine/evaluate.ts', 'api is a leaf (no engine)'],
  ['src/api/example.ts', '../kube/errors.ts', 'api is a leaf (no kube)'],
  ['src/engine/example.ts', '../kube/api.ts', 'engine is pure (no kube)'],
  ['src/engine/rules/pod-security/example.ts', '../../../runtime/manager.ts', 'engine, nested'],
  ['src/engine/example.ts', '../report/events.ts', 'engine is pure (no report)'],
  ['src/kube/example.ts', '../engine/json.ts', 'kube imports only base'],
  ['src/kube/example.ts', '../api/constants.ts', 'kube imports only base'],
  ['src/observability/example.ts', '../runtime/reconcile.ts', 'observability: base and api'],
  ['src/observability/example.ts', '../config.ts', 'observability: base and api'],
  ['src/runtime/example.ts', '../controllers/pod/reconciler.ts', 'runtime has no domain'],
  ['src/runtime/example.ts', '../engine/evaluate.ts', 'runtime has no domain'],
  [
    'src/remediation/example.ts',
    '../controllers/pod/violating-pods.ts',
    'remediation: no controllers',
  ],
  ['src/remediation/example.ts', '../runtime/reconcile.ts', 'remediation: no runtime'],
  ['src/report/example.ts', '../controllers/pod/violating-pods.ts', 'report: no controllers'],
  ['src/report/example.ts', '../setup/operator.ts', 'report: no setup'],
  ['src/controllers/pod/example.ts', '../../setup/operator.ts', 'controllers: no setup'],
  ['src/controllers/pod/example.ts', '../../main.ts', 'controllers: no entry points'],
  ['src/offline/example.ts', '../kube/client.ts', 'offline: engine, api, base only'],
  ['src/evaluation/example.ts', '../kube/api.ts', 'evaluation: engine, api, base only'],
  ['src/evaluation/example.ts', '../controllers/pod/reconciler.ts', 'evaluation below controllers'],
];

/** Imports each layer may make. */
const ALLOWED: [string, string][] = [
  ['src/base/example.ts', './json.ts'],
  ['src/api/example.ts', '../base/json.ts'],
  ['src/engine/rules/pod-security/example.ts', '../../../api/policy.ts'],
  ['src/engine/rules/example.ts', '../pod.ts'],
  ['src/kube/example.ts', '../base/log.ts'],
  ['src/kube/example.ts', '../version.ts'],
  ['src/runtime/example.ts', '../kube/api.ts'],
  ['src/remediation/example.ts', '../report/events.ts'],
  ['src/report/example.ts', '../engine/violation.ts'],
  ['src/controllers/pod/example.ts', '../../remediation/remediator.ts'],
  ['src/controllers/pod/example.ts', '../../runtime/reconcile.ts'],
  ['src/setup/example.ts', '../controllers/pod/reconciler.ts'],
  ['src/offline/example.ts', '../engine/evaluate.ts'],
  ['src/evaluation/example.ts', '../engine/evaluate.ts'],
];

describe('lint: the layers of src/', function () {
  this.timeout(60_000);
  for (const [file, spec, why] of REFUSED) {
    it(`refuses ${spec} in ${file} (${why})`, async () => {
      const errors = await layerErrors(imp(spec), file);
      expect(
        errors.some((e) => e.startsWith('layers/boundaries')),
        errors.join('\n'),
      ).to.equal(true);
    });
  }
  for (const [file, spec] of ALLOWED) {
    it(`allows ${spec} in ${file}`, async () => {
      expect(await layerErrors(imp(spec), file)).to.deep.equal([]);
    });
  }
  it('checks re-exports and dynamic imports too', async () => {
    expect(
      await layerErrors("export { x } from '../kube/api.ts';\n", 'src/base/e.ts'),
    ).to.have.length(1);
    expect(
      await layerErrors("export const m = () => import('../kube/api.ts');\n", 'src/base/e.ts'),
    ).to.have.length(1);
  });
});

describe('lint: type-aware rules on src/', function () {
  this.timeout(60_000);
  it('refuses a floating promise and a promise where a void callback is expected', async () => {
    // A real file of src/, so the type-aware rules run with the project's program.
    const [result] = await new ESLint({ cwd }).lintText(
      [
        "import { systemClock } from './base/clock.ts';",
        'export function f(): void {',
        '  systemClock.sleep(1);',
        '  [1].forEach(async () => undefined);',
        '}',
        '',
      ].join('\n'),
      { filePath: 'src/version.ts' },
    );
    const rules = (result?.messages ?? []).map((m) => m.ruleId);
    expect(rules).to.include('@typescript-eslint/no-floating-promises');
    expect(rules).to.include('@typescript-eslint/no-misused-promises');
  });
});
