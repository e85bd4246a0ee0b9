// The control plane itself: versions, Ready kwok nodes, and the restricted identities tests use
// to run code with exactly the RBAC it is granted.
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import {
  clusterEnv,
  freshNamespace,
  kubectl,
  loadKubeConfig,
  serviceAccountKubeconfig,
  unprivilegedKubeconfigPath,
} from '../cluster.ts';

describe('smoke: control plane', () => {
  it('kubectl and the API server report the pinned Kubernetes version', async () => {
    const { K8S_VERSION } = clusterEnv();
    const out = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    if (process.env.DEPLOYGUARD_CLUSTER_BIN_DIR || process.env.KUBEBUILDER_ASSETS) {
      // Binaries supplied from outside may be another release; they must still be stamped.
      expect(out.serverVersion.gitVersion).to.match(/^v1\.\d+\.\d+/);
    } else {
      expect(out.clientVersion.gitVersion).to.equal(K8S_VERSION);
      expect(out.serverVersion.gitVersion).to.equal(K8S_VERSION);
    }
  });

  it('has Ready kwok nodes: workers and a tainted control-plane node', async () => {
    const core = loadKubeConfig().makeApiClient(CoreV1Api);
    const nodes = (await core.listNode()).items;
    const ready = nodes.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    expect(ready.length).to.equal(nodes.length);
    const workers = nodes.filter(
      (n) => !('node-role.kubernetes.io/control-plane' in (n.metadata?.labels ?? {})),
    );
    expect(workers.length).to.be.at.least(2);
    const cp = nodes.find(
      (n) => 'node-role.kubernetes.io/control-plane' in (n.metadata?.labels ?? {}),
    );
    expect(cp?.spec?.taints?.map((t) => `${t.key}:${t.effect}`)).to.include(
      'node-role.kubernetes.io/control-plane:NoSchedule',
    );
  });

  it('authorizes the unprivileged user by RBAC only, and allows impersonation by admin', async () => {
    const ns = await freshNamespace('dg-rbac');
    const denied = await kubectl(['get', 'pods', '-n', ns], {
      kubeconfig: unprivilegedKubeconfigPath,
      allowFail: true,
    });
    expect(denied.code).to.not.equal(0);
    expect(denied.stderr).to.match(/forbidden/i);
    await kubectl([
      'create',
      'rolebinding',
      'view',
      '--clusterrole=view',
      '--user=deployguard-test-user',
      '-n',
      ns,
    ]);
    const allowed = await kubectl(['auth', 'can-i', 'list', 'pods', '-n', ns], {
      kubeconfig: unprivilegedKubeconfigPath,
    });
    expect(allowed.stdout.trim()).to.equal('yes');
    const impersonated = await kubectl(
      ['auth', 'can-i', 'delete', 'pods', '-n', ns, '--as=deployguard-test-user'],
      { allowFail: true },
    );
    expect(impersonated.stdout.trim()).to.equal('no');
  });

  it('issues ServiceAccount tokens that authenticate with exactly their bindings', async () => {
    const ns = await freshNamespace('dg-sa');
    await kubectl(['create', 'serviceaccount', 'robot', '-n', ns]);
    await kubectl([
      'create',
      'role',
      'pod-reader',
      '--verb=get,list,watch',
      '--resource=pods',
      '-n',
      ns,
    ]);
    await kubectl([
      'create',
      'rolebinding',
      'robot',
      '--role=pod-reader',
      `--serviceaccount=${ns}:robot`,
      '-n',
      ns,
    ]);
    const kc = await serviceAccountKubeconfig(ns, 'robot');
    const who = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], {
      kubeconfig: kc,
    });
    expect(who.stdout).to.equal(`system:serviceaccount:${ns}:robot`);
    const core = loadKubeConfig(kc).makeApiClient(CoreV1Api);
    expect((await core.listNamespacedPod({ namespace: ns })).items).to.deep.equal([]);
    const err = await core.listNamespacedPod({ namespace: 'kube-system' }).then(
      () => undefined,
      (e: unknown) => e as { code?: number },
    );
    expect(err?.code).to.equal(403);
  });
});
