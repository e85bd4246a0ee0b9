// `make demo-offline` (and `make demo`, on a cluster) judges these examples: each attack must be
// caught for the reason it illustrates, and the benign workload must pass.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Result {
  resource: { kind: string; name: string };
  rule: string;
}

describe('examples (make demo, make demo-offline)', function () {
  this.timeout(30_000);
  const r = spawnSync(
    process.execPath,
    [
      '--no-warnings',
      'src/cli.ts',
      'evaluate',
      '-p',
      'examples/policies.yaml',
      '-f',
      'examples/attacks.yaml',
      '-f',
      'examples/benign.yaml',
      '-o',
      'json',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const out =
    r.status === 1
      ? (JSON.parse(r.stdout) as { results: Result[]; summary: Record<string, number> })
      : undefined;
  const rules = (name: string) =>
    out?.results.filter((x) => x.resource.name === name).map((x) => x.rule) ?? [];

  it('exits 1: violations found', () => expect(r.status, r.stderr).to.equal(1));
  it('catches the host escape: root hostPath, hostPID, privileged, nsenter into PID 1', () => {
    expect(rules('host-escape')).to.include.members([
      'hostPath.sensitive',
      'pss.hostNamespaces',
      'pss.privileged',
      'command.denied',
      'scheduling.nodeName',
    ]);
  });
  it('catches the miner DaemonSet: image, pool URL, privileged, tolerate-all', () => {
    expect(rules('node-agent')).to.include.members([
      'indicator.miner',
      'image.denied',
      'pss.privileged',
      'scheduling.controlPlaneToleration',
    ]);
  });
  it('catches the download-and-execute pod', () =>
    expect(rules('updater')).to.include('indicator.downloadExec'));
  it('catches the pinned reverse shell', () =>
    expect(rules('debug-tools')).to.include.members([
      'indicator.reverseShell',
      'scheduling.hostnameSelector',
    ]));
  it('catches the runc working-directory escape', () =>
    expect(rules('migrate')).to.include('indicator.procFdWorkingDir'));
  it('lets the benign Deployment pass', () => expect(rules('web')).to.deep.equal([]));
  it('matches the summary the README quotes', () =>
    expect(out?.summary).to.deep.equal({ resources: 6, violating: 5, violations: 20 }));
});
