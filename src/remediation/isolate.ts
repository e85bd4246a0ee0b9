// Isolate: a NetworkPolicy that selects this one pod and allows nothing in or out, so a reverse
// shell or a miner loses the network while the pod stays for forensics. The policy selects the pod
// by a label holding its UID (unique; names can be reused), and is owned by the pod, so the garbage
// collector removes it with the pod. The NetworkPolicy is created before the label: until the
// label lands it selects nothing, and a failure between the two steps leaves nothing half-open.
//
// Whether the pod is isolated is judged from the NetworkPolicy, never from the label alone: the
// pod's owner can write the label (pre-arming it before turning the pod into a miner), and can
// create a NetworkPolicy of that name with other rules. Only a NetworkPolicy of our name that
// denies everything and selects exactly this pod counts; one that doesn't is replaced.
import { GROUP, LABEL_ISOLATED } from '../api/constants.ts';
import type { IsolateAction } from '../api/policy.ts';
import { asObject } from '../base/json.ts';
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

/** The spec that isolates the pod with this UID: select it alone, allow nothing either way. */
function denyAll(uid: string): Record<string, unknown> {
  return {
    podSelector: { matchLabels: { [LABEL_ISOLATED]: uid } },
    // Both types with no rules: deny all ingress and all egress.
    policyTypes: ['Ingress', 'Egress'],
  };
}

/** Does this NetworkPolicy spec deny everything to exactly the pod with this UID, and nothing else? */
export function isolates(spec: unknown, uid: string): boolean {
  const s = asObject(spec);
  const selector = asObject(s?.podSelector);
  const labels = asObject(selector?.matchLabels);
  const types = Array.isArray(s?.policyTypes) ? [...(s.policyTypes as unknown[])].sort() : [];
  const noRules = (k: string): boolean =>
    s?.[k] === undefined || (Array.isArray(s[k]) && (s[k] as unknown[]).length === 0);
  return (
    labels !== undefined &&
    Object.keys(labels).length === 1 &&
    labels[LABEL_ISOLATED] === uid &&
    (selector?.matchExpressions === undefined ||
      (Array.isArray(selector.matchExpressions) && selector.matchExpressions.length === 0)) &&
    types.length === 2 &&
    types[0] === 'Egress' &&
    types[1] === 'Ingress' &&
    noRules('ingress') &&
    noRules('egress')
  );
}

export const isolatePod: RemediationAction<IsolateAction> = {
  type: 'Isolate',
  permissions: [
    {
      group: 'networking.k8s.io',
      resource: 'networkpolicies',
      verbs: ['get', 'list', 'watch', 'create', 'update'],
    },
    { group: '', resource: 'pods', verbs: ['patch'] },
  ],
  // The cache of NetworkPolicies shows ours (and the label is only set after it exists).
  inEffect({ pod, isolation }) {
    const uid = pod.metadata.uid;
    return (
      uid !== undefined &&
      pod.metadata.labels[LABEL_ISOLATED] === uid &&
      isolation !== undefined &&
      isolates(isolation.spec, uid)
    );
  },
  async execute(ctx, { pod }) {
    const { namespace, name, uid } = pod.metadata;
    if (!uid) return { kind: 'noop', why: 'pod has no UID' };
    // NetworkPolicies don't apply to pods on the host's network: saying "isolated" would be a lie.
    if (pod.spec.hostNetwork)
      return { kind: 'skipped', why: 'a NetworkPolicy cannot isolate a hostNetwork pod' };
    const npName = isolationPolicyName(uid);
    const labelled = pod.metadata.labels[LABEL_ISOLATED] === uid;
    const body = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: npName,
        namespace,
        labels: { 'app.kubernetes.io/managed-by': 'deployguard' },
        annotations: { [`${GROUP}/policy`]: ctx.policy, [`${GROUP}/pod`]: name },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid }],
      },
      spec: denyAll(uid),
    };
    let current: Record<string, unknown> | undefined;
    try {
      current = asObject(await ctx.api.request('GET', networkPolicyPath(namespace, npName)));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const correct = current !== undefined && isolates(current.spec, uid);
    if (correct && labelled) return { kind: 'noop', why: 'already isolated' };
    if (current === undefined) {
      try {
        await ctx.api.request('POST', networkPolicyPath(namespace), { body });
      } catch (err) {
        // Created meanwhile (our own earlier attempt, say). Whatever it says, the in-effect check
        // reads its spec from the cache, so one that isolates nothing is replaced next time.
        if (!isAlreadyExists(err)) throw err;
      }
    } else if (!correct) {
      // One of our name that isolates nothing (someone else wrote it): ours replaces it.
      const rv = asObject(current.metadata)?.resourceVersion;
      await ctx.api.request('PUT', networkPolicyPath(namespace, npName), {
        body: { ...body, metadata: { ...body.metadata, resourceVersion: rv } },
      });
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
