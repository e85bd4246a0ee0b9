// The alerts of config/prometheus/alerts.yaml, checked and unit-tested by promtool (the pinned
// build of test/tools/build.sh): `promtool check rules` over the PrometheusRule's groups, and
// `promtool test rules` over test/prometheus/alerts.test.yaml, which must hold a firing and a
// quiet case for every alert. No cluster is involved; it runs with the integration suite because
// it needs a built tool.
import { expect } from 'chai';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { repoRoot, run } from './cluster.ts';
import { toolPath } from './tools.ts';

type Rule = { alert?: string; record?: string; expr: string };
type PrometheusRule = { kind: string; spec: { groups: { name: string; rules: Rule[] }[] } };
type AlertTest = {
  alertname: string;
  exp_alerts?: { exp_labels?: object; exp_annotations?: Record<string, string> }[];
};
type TestFile = {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: AlertTest[] }[];
};

const ALERTS = join(repoRoot, 'config', 'prometheus', 'alerts.yaml');
const TESTS = join(repoRoot, 'test', 'prometheus', 'alerts.test.yaml');

const rule = parse(readFileSync(ALERTS, 'utf8')) as PrometheusRule;
const alerts = rule.spec.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
const testFile = parse(readFileSync(TESTS, 'utf8')) as TestFile;
const cases = testFile.tests.flatMap((t) => t.alert_rule_test ?? []);

/** Metric names of the contract: the table in docs/api.md section 5. */
function contractMetrics(): string[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 5. Metrics'), doc.indexOf('## 6.'));
  return [...section.matchAll(/^\| `(deployguard_[a-z_]+)` \|/gm)].map((m) => m[1] as string);
}

describe('config/prometheus/alerts.yaml under promtool', function () {
  let promtool = '';
  let dir = '';

  before(async function () {
    // A fresh clone without `make tools-build` builds promtool here (about 9 minutes on 2 cores).
    this.timeout(50 * 60_000);
    promtool = await toolPath('promtool');
    // promtool reads plain rule files: the PrometheusRule's spec.groups, extracted.
    dir = mkdtempSync(join(tmpdir(), 'dg-alerts-'));
    writeFileSync(
      join(dir, 'rules.yaml'),
      stringify({ groups: rule.spec.groups }, { lineWidth: 0 }),
    );
    copyFileSync(TESTS, join(dir, 'alerts.test.yaml'));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has alerts, and the test file reads the extracted rules', () => {
    expect(rule.kind).to.equal('PrometheusRule');
    expect(alerts.length).to.be.greaterThan(0);
    expect(testFile.rule_files).to.deep.equal(['rules.yaml']);
  });

  it('passes promtool check rules', async () => {
    const r = await run(promtool, ['check', 'rules', join(dir, 'rules.yaml')], {
      allowFail: true,
    });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include(`SUCCESS: ${alerts.length} rules found`);
  });

  it('uses only metrics of the contract (docs/api.md section 5) and up', () => {
    const metrics = contractMetrics();
    expect(metrics).to.include('deployguard_reconcile_total');
    for (const a of alerts)
      for (const m of a.expr.match(/\bdeployguard_[a-z_]+/g) ?? [])
        expect(metrics, `${a.alert} uses ${m}`).to.include(m);
  });

  it('has a firing case and a quiet case in alerts.test.yaml for every alert', () => {
    const missing: string[] = [];
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0);
      if (firing.length === 0) missing.push(`${a.alert}: no case where it fires`);
      if (!mine.some((c) => (c.exp_alerts ?? []).length === 0))
        missing.push(`${a.alert}: no near miss where it stays quiet`);
      for (const c of firing)
        for (const e of c.exp_alerts ?? [])
          if (!e.exp_labels || !e.exp_annotations?.summary)
            missing.push(`${a.alert}: a firing case without labels or summary`);
    }
    // And no case for an alert that does not exist (a renamed alert would pass vacuously).
    const names = new Set(alerts.map((a) => a.alert));
    for (const c of cases)
      if (!names.has(c.alertname)) missing.push(`${c.alertname}: tested but not in alerts.yaml`);
    expect(missing).to.deep.equal([]);
  });

  it('passes promtool test rules (test/prometheus/alerts.test.yaml)', async function () {
    this.timeout(120_000);
    // rule_files is read relative to the test file, so from the temporary directory.
    const r = await run(promtool, ['test', 'rules', join(dir, 'alerts.test.yaml')], {
      allowFail: true,
      timeoutMs: 110_000,
    });
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.include('SUCCESS');
  });
});
