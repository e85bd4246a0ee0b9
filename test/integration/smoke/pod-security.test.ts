// The API server's own Pod Security Admission enforces the `restricted` level on a labelled
// namespace (later the oracle for deployguard's own Pod Security checks).
import { expect } from 'chai';
import { freshNamespace, kubectl, waitFor } from '../cluster.ts';

function pod(
  name: string,
  securityContext: Record<string, unknown>,
  podSecurityContext = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      securityContext: podSecurityContext,
      containers: [{ name: 'app', image: 'registry.example.com/app:1.0', securityContext }],
    },
  });
}

describe('smoke: Pod Security Admission', () => {
  it('refuses a privileged pod in a namespace enforcing restricted', async () => {
    const ns = await freshNamespace('dg-psa', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    const r = await kubectl(['create', '-n', ns, '-f', '-'], {
      input: pod('escape', { privileged: true }),
      allowFail: true,
    });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('violates PodSecurity "restricted:latest"');
    expect(r.stderr).to.include('privileged');
  });

  it('admits a pod that meets restricted, and it runs', async () => {
    const ns = await freshNamespace('dg-psa', {
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    await kubectl(['create', '-n', ns, '-f', '-'], {
      input: pod(
        'good',
        { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      ),
    });
    await waitFor('pod good Running', async () => {
      const r = await kubectl(['get', 'pod', 'good', '-n', ns, '-o', 'jsonpath={.status.phase}']);
      return r.stdout === 'Running';
    });
  });

  it('allows the same privileged pod in an unlabelled namespace', async () => {
    const ns = await freshNamespace('dg-psa-off');
    await kubectl(['create', '-n', ns, '-f', '-'], {
      input: pod('privileged', { privileged: true }),
    });
  });
});
