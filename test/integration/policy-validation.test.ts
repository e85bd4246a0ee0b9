// The CRD on a real API server and our parser judge malformed policies alike: every case the parser
// rejects with a field path, the API server rejects naming the same field, except the problems only
// the operator can see (regex, time zone, check and rule IDs), which the API server must accept so
// the operator can report them as Ready=False. Same table as test/unit/engine/parse-policy.test.ts.
import { expect } from 'chai';
import { join } from 'node:path';
import { parsePolicy } from '../../src/engine/parse-policy.ts';
import { INVALID_POLICIES } from '../fixtures/invalid-policies.ts';
import { kubectl, repoRoot } from './cluster.ts';

const crdFile = join(repoRoot, 'crds', 'deployguard.dev_containerdeploymentpolicies.yaml');
const LABEL = 'deployguard.dev/test-validation';

function policy(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: 'deployguard.dev/v1alpha1',
    kind: 'ContainerDeploymentPolicy',
    metadata: { name, labels: { [LABEL]: 'true' } },
    spec,
  });
}

describe('policy validation: the API server and the parser agree', function () {
  const suffix = Date.now().toString(36);

  before(async () => {
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdFile]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/containerdeploymentpolicies.deployguard.dev',
      '--timeout=60s',
    ]);
  });

  after(async () => {
    await kubectl(['delete', 'cdp', '-l', `${LABEL}=true`, '--ignore-not-found'], {
      allowFail: true,
    });
  });

  INVALID_POLICIES.forEach((c, i) => {
    const name = `invalid-${i}-${suffix}`;
    if (c.apiServer) {
      it(`API server rejects ${c.what}, naming ${c.field}`, async () => {
        const r = await kubectl(['create', '-f', '-'], {
          input: policy(name, c.spec),
          allowFail: true,
        });
        expect(r.code, r.stdout).to.not.equal(0);
        expect(r.stderr).to.contain(c.field);
      });
    } else {
      it(`API server accepts ${c.what}: only the operator can see it`, async () => {
        const r = await kubectl(['create', '-f', '-'], {
          input: policy(name, c.spec),
          allowFail: true,
        });
        expect(r.code, r.stderr).to.equal(0);
      });
    }
  });

  it('teaches the user through kubectl explain', async () => {
    const r = await kubectl(['explain', 'cdp.spec.rules.images.allowedRegistries']);
    expect(r.stdout).to.contain('Allowed prefixes of the normalised image reference');
    const cols = await kubectl([
      'get',
      'crd',
      'containerdeploymentpolicies.deployguard.dev',
      '-o',
      'jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}',
    ]);
    expect(cols.stdout.split(' ')).to.deep.equal(['Mode', 'Ready', 'Violating', 'Actions', 'Age']);
  });

  it('stores the defaults the parser applies', async () => {
    const name = `defaults-${suffix}`;
    await kubectl(['create', '-f', '-'], {
      input: policy(name, {
        rules: { images: {}, scheduling: {} },
        actions: [{ type: 'DeletePod' }],
      }),
    });
    const got = JSON.parse((await kubectl(['get', 'cdp', name, '-o', 'json'])).stdout);
    expect(got.spec.mode).to.equal('Audit');
    expect(got.spec.match).to.deep.include({ namespaces: ['*'], excludeNamespaces: [] });
    expect(got.spec.rules.images).to.deep.equal({
      allowedRegistries: [],
      deniedImages: [],
      requireDigest: false,
      disallowLatestTag: true,
    });
    expect(got.spec.rules.scheduling).to.deep.equal({
      denyNodeName: true,
      denyHostnameSelector: true,
      denyControlPlaneTolerations: true,
    });
    expect(got.spec.guards).to.deep.equal({
      maxActionsPerMinute: 30,
      protectedNamespaces: ['kube-system'],
      maxCordonedNodesPercent: 20,
      ignoreOwnerKinds: [],
    });
    expect(got.spec.rules.hostPaths, 'an absent block stays absent').to.equal(undefined);
    // The parser's defaulting equals the API server's, except evict, which the CRD can't default.
    const parsed = parsePolicy(got);
    expect(parsed.ok).to.equal(true);
    if (!parsed.ok) return;
    const { actions, ...rest } = parsed.policy.spec;
    const { actions: storedActions, ...storedRest } = got.spec;
    expect(rest).to.deep.equal(storedRest);
    expect(actions).to.deep.equal(storedActions.map((a: object) => ({ ...a, evict: false })));
  });
});
