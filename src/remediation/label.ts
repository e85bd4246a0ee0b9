// Label: adds the policy's labels to the pod (e.g. quarantine=true), for other tooling to select.
import type { LabelAction } from '../api/policy.ts';
import type { RemediationAction } from './action.ts';
import { ruleList } from './action.ts';
import { patchPodLabels, podRef } from './pod-ref.ts';

export const labelPod: RemediationAction<LabelAction> = {
  type: 'Label',
  permissions: [{ group: '', resource: 'pods', verbs: ['patch'] }],
  inEffect({ pod }, action) {
    return Object.entries(action.labels).every(([k, v]) => pod.metadata.labels[k] === v);
  },
  async execute(ctx, { pod }, action) {
    const missing = Object.entries(action.labels).filter(([k, v]) => pod.metadata.labels[k] !== v);
    if (missing.length === 0) return { kind: 'noop', why: 'labels already present' };
    const written = await patchPodLabels(ctx.api, pod, Object.fromEntries(missing));
    if (written === 'gone') return { kind: 'noop', why: 'pod is gone' };
    return {
      kind: 'success',
      resourceVersion: written.resourceVersion,
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
