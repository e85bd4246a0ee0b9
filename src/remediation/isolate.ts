// Isolate: a NetworkPolicy that selects this one pod and allows nothing in or out, so a reverse
// shell or a miner loses the network while the pod stays for forensics. The policy selects the pod
// by a label holding its UID (unique; names can be reused), and is owned by the pod, so the garbage
// collector removes it with the pod. The NetworkPolicy is created before the label: until the
// label lands it selects nothing, and a failure between the two steps leaves nothing half-open.
import { GROUP, LABEL_ISOLATED } from '../api/constants.ts';
import type { IsolateAction } from '../api/policy.ts';
import { isAlreadyExists, isNotFound } from '../kube/errors.ts';
import { resourcePath } from '../kube/paths.ts';
import type { RemediationAction } from './action.ts';
import { ruleList } from './action.ts';
import { patchPodLabels, podRef } from './pod-ref.ts';

const networkPolicyPath = (namespace: string, name?: string): string =>
  resourcePath({
    group: 'networking.k8s.io',
    version: 'v1',
    resource: 'networkpolicies',
    namespace,
    name,
  });

export function isolationPolicyName(uid: string): string {
  return `deployguard-isolate-${uid}`;
}

export const isolatePod: RemediationAction<IsolateAction> = {
  type: 'Isolate',
  permissions: [
    { group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['get', 'create'] },
    { group: '', resource: 'pods', verbs: ['patch'] },
  ],
  // The label is only set after the NetworkPolicy exists (see above); execute checks both.
  inEffect({ pod }) {
    return (
      pod.metadata.uid !== undefined && pod.metadata.labels[LABEL_ISOLATED] === pod.metadata.uid
    );
  },
  async execute(ctx, { pod }) {
    const { namespace, name, uid } = pod.metadata;
    if (!uid) return { kind: 'noop', why: 'pod has no UID' };
    // NetworkPolicies don't apply to pods on the host's network: saying "isolated" would be a lie.
    if (pod.spec.hostNetwork)
      return { kind: 'skipped', why: 'a NetworkPolicy cannot isolate a hostNetwork pod' };
    const npName = isolationPolicyName(uid);
    const npPath = networkPolicyPath(namespace, npName);
    const labelled = pod.metadata.labels[LABEL_ISOLATED] === uid;
    let exists = false;
    try {
      await ctx.api.request('GET', npPath);
      exists = true;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (exists && labelled) return { kind: 'noop', why: 'already isolated' };
    if (!exists) {
      try {
        await ctx.api.request('POST', networkPolicyPath(namespace), {
          body: {
            apiVersion: 'networking.k8s.io/v1',
            kind: 'NetworkPolicy',
            metadata: {
              name: npName,
              namespace,
              labels: { 'app.kubernetes.io/managed-by': 'deployguard' },
              annotations: { [`${GROUP}/policy`]: ctx.policy, [`${GROUP}/pod`]: name },
              ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }],
            },
            spec: {
              podSelector: { matchLabels: { [LABEL_ISOLATED]: uid } },
              // Both types with no rules: deny all ingress and all egress.
              policyTypes: ['Ingress', 'Egress'],
            },
          },
        });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
    let resourceVersion: string | undefined;
    if (!labelled) {
      const written = await patchPodLabels(ctx.api, pod, { [LABEL_ISOLATED]: uid });
      if (written === 'gone') return { kind: 'noop', why: 'pod is gone' };
      resourceVersion = written.resourceVersion;
    }
    return {
      kind: 'success',
      resourceVersion,
      event: {
        target: podRef(pod),
        type: 'Warning',
        reason: 'PodIsolated',
        action: 'Isolate',
        message: `policy ${ctx.policy} cut the pod off the network (NetworkPolicy ${npName} denies all ingress and egress) because of ${ruleList(ctx.because)}`,
      },
    };
  },
};
