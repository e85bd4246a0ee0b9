// The least-privilege check itself must be able to fail: a refusal the operator's RBAC really
// makes is reported, one that the authorizer allows now (the restart window) is not.
import { expect } from 'chai';
import { freshNamespace, kubectlPath, run } from '../cluster.ts';
import { operatorAccount, SERVICE_ACCOUNT, type LogLine } from './harness.ts';
import { leastPrivilegeProblems, refusalIn } from './least-privilege.ts';

describe('operator: the least-privilege check', function () {
  this.timeout(60_000);

  it('reports a request the RBAC refuses, and not one it allows', async () => {
    const own = await freshNamespace('dg-lp');
    const kubeconfig = await operatorAccount(own);
    // A real refusal from the real authorizer: the operator may not read Secrets.
    const r = await run(kubectlPath, ['--kubeconfig', kubeconfig, 'get', 'secrets', '-n', own], {
      allowFail: true,
    });
    expect(r.code).to.not.equal(0);
    const refused: LogLine = {
      level: 'warn',
      msg: 'reconcile failed; will retry',
      error: r.stderr,
    };
    expect(refusalIn(refused)).to.deep.include({
      user: `system:serviceaccount:${own}:${SERVICE_ACCOUNT}`,
      verb: 'list',
      resource: 'secrets',
      namespace: own,
    });
    const problems = await leastPrivilegeProblems('operator', [refused]);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.contain('list core/secrets');
    // The same message shape for a request the bindings allow (as a restarted API server sends
    // before its authorizer has loaded them): not a least-privilege failure.
    const transient: LogLine = {
      level: 'warn',
      msg: 'could not write policy status',
      error: `PATCH /api/v1/namespaces/${own}/pods/x: 403 Forbidden: pods "x" is forbidden: User "system:serviceaccount:${own}:${SERVICE_ACCOUNT}" cannot patch resource "pods" in API group "" in the namespace "${own}"`,
    };
    expect(await leastPrivilegeProblems('operator', [transient])).to.deep.equal([]);
    // A "forbidden" that names no request can't be checked, so it fails.
    const vague: LogLine = { level: 'error', msg: 'forbidden by something' };
    expect(await leastPrivilegeProblems('operator', [vague])).to.have.length(1);
  });
});
