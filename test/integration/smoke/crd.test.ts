// The ContainerDeploymentPolicy CRD from crds/ is accepted by the real API server, which then
// validates policies against its schema and rejects a malformed one naming the bad field.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl, repoRoot } from '../cluster.ts';

const crdFile = join(repoRoot, 'crds', 'deployguard.dev_containerdeploymentpolicies.yaml');
const crdName = 'containerdeploymentpolicies.deployguard.dev';

function policy(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'deployguard.dev/v1alpha1',
    kind: 'ContainerDeploymentPolicy',
    metadata: { name, labels: { 'deployguard.dev/test': 'true' } },
    spec,
  });
}

describe('smoke: ContainerDeploymentPolicy CRD', function () {
  const suffix = Date.now().toString(36);

  before(async function () {
    expect(existsSync(crdFile), `${crdFile} exists`).to.equal(true);
    // Server-side apply: a CRD with a full schema can exceed client-side apply's annotation limit.
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdFile]);
    await kubectl(['wait', '--for=condition=Established', `crd/${crdName}`, '--timeout=60s']);
  });

  after(async () => {
    await kubectl(['delete', 'cdp', '-l', 'deployguard.dev/test=true', '--ignore-not-found'], {
      allowFail: true,
    });
  });

  it('is served as a cluster-scoped resource with its short names', async () => {
    const out = await kubectl([
      'api-resources',
      '--api-group=deployguard.dev',
      '-o',
      'wide',
      '--no-headers',
    ]);
    expect(out.stdout).to.match(
      /^containerdeploymentpolicies\s+cdp,cdps\s+deployguard\.dev\/v1alpha1\s+false\s+ContainerDeploymentPolicy/m,
    );
  });

  it('accepts a well-formed policy', async () => {
    const name = `smoke-valid-${suffix}`;
    await kubectl(['apply', '-f', '-'], {
      input: policy(name, { mode: 'Audit', rules: { podSecurity: { level: 'restricted' } } }),
    });
    const got = await kubectl(['get', 'cdp', name, '-o', 'jsonpath={.spec.mode}']);
    expect(got.stdout).to.equal('Audit');
  });

  it('rejects a malformed policy and names the field', async () => {
    const r = await kubectl(['apply', '-f', '-'], {
      input: policy(`smoke-bogus-${suffix}`, {
        mode: 'Bogus',
        rules: { podSecurity: { level: 'restricted' } },
      }),
      allowFail: true,
    });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('spec.mode');
    expect(r.stderr).to.match(/Unsupported value: "Bogus"|Invalid value/);
  });
});
