// Label: adds the policy's labels to the pod (e.g. quarantine=true), for other tooling to select.
import type { LabelAction } from '../api/policy.ts';
import { isNotFound, isUidMismatch } from '../kube/errors.ts';
import type { RemediationAction } from './action.ts';
import { podPath, podRef, ruleList } from './action.ts';

export const labelPod: RemediationAction<LabelAction> = {
  type: 'Label',
  permissions: [{ group: '', resource: 'pods', verbs: ['patch'] }],
  inEffect({ pod }, action) {
    return Object.entries(action.labels).every(([k, v]) => pod.metadata.labels[k] === v);
  },
  async execute(ctx, { pod }, action) {
    const missing = Object.entries(action.labels).filter(([k, v]) => pod.metadata.labels[k] !== v);
    if (missing.length === 0) return { kind: 'noop', why: 'labels already present' };
    let written: { metadata?: { resourceVersion?: string } } | undefined;
    try {
      // metadata.uid in the patch makes the API server refuse it if the name now belongs to a new pod.
      written = await ctx.api.request('PATCH', podPath(pod), {
        contentType: 'application/merge-patch+json',
        body: { metadata: { uid: pod.metadata.uid, labels: Object.fromEntries(missing) } },
      });
    } catch (err) {
      if (isNotFound(err) || isUidMismatch(err)) return { kind: 'noop', why: 'pod is gone' };
      throw err;
    }
    return {
      kind: 'success',
      resourceVersion: written?.metadata?.resourceVersion,
      event: {
        target: podRef(pod),
        type: 'Normal',
        reason: 'PodLabeled',
        action: 'Label',
        message: `policy ${ctx.policy} labelled the pod ${missing.map(([k, v]) => `${k}=${v}`).join(',')} because of ${ruleList(ctx.because)}`,
      },
    };
  },
};
