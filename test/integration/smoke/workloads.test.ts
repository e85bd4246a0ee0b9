// Workloads really run on the kwok nodes: the scheduler places a Deployment's pods, kwok turns
// them Running, and the ReplicaSet controller recreates a deleted pod.
import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { freshNamespace, loadKubeConfig, waitFor } from '../cluster.ts';

const running = (p: V1Pod): boolean =>
  p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp;

describe('smoke: workloads on kwok nodes', () => {
  // Created in before(): the kubeconfig exists only once the root hook has started the cluster.
  let core: CoreV1Api;
  let apps: AppsV1Api;
  before(() => {
    const kc = loadKubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });

  async function runningPods(namespace: string): Promise<V1Pod[]> {
    return (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items.filter(
      running,
    );
  }

  it("runs a Deployment's pods on worker nodes and recreates a deleted one", async () => {
    const namespace = await freshNamespace('dg-workload');
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'registry.example.com/web:1.0' }] },
          },
        },
      },
    });
    const pods = await waitFor('3 Running pods', async () => {
      const p = await runningPods(namespace);
      return p.length === 3 ? p : undefined;
    });
    for (const p of pods) {
      expect(p.spec?.nodeName, p.metadata?.name).to.match(/^kwok-worker-\d+$/);
      expect(p.status?.podIP, p.metadata?.name).to.be.a('string');
      expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    }

    const victim = pods[0]?.metadata?.name ?? '';
    await core.deleteNamespacedPod({ name: victim, namespace });
    const after = await waitFor('the ReplicaSet to replace the deleted pod', async () => {
      const p = await runningPods(namespace);
      return p.length === 3 && !p.some((x) => x.metadata?.name === victim) ? p : undefined;
    });
    const rsOwner = after[0]?.metadata?.ownerReferences?.find((o) => o.controller);
    expect(rsOwner?.kind).to.equal('ReplicaSet');
    // The deleted pod is really gone (kwok finishes graceful deletion for the fake kubelet).
    await waitFor('the deleted pod to disappear', async () => {
      const all = (await core.listNamespacedPod({ namespace })).items;
      return !all.some((x) => x.metadata?.name === victim);
    });
  });
});
