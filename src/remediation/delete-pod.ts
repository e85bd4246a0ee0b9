// DeletePod: removes the pod, or with evict: true asks the Eviction API, which honours
// PodDisruptionBudgets. Both carry preconditions.uid, so a new pod that took the same name is never
// the one removed. 404 (already gone) and 409 (the UID no longer matches) are not failures: the
// pod the plan was about no longer exists.
import type { DeletePodAction } from '../api/policy.ts';
import { isConflict, isNotFound, isTooManyRequests } from '../kube/errors.ts';
import type { RemediationAction } from './action.ts';
import { ruleList } from './action.ts';
import { podPathOf, podRef } from './pod-ref.ts';

/** How long to wait before asking again when a PodDisruptionBudget refuses an eviction. */
export const EVICTION_RETRY_MS = 30_000;

export const deletePod: RemediationAction<DeletePodAction> = {
  type: 'DeletePod',
  permissions: [
    { group: '', resource: 'pods', verbs: ['delete'] },
    { group: '', resource: 'pods/eviction', verbs: ['create'] },
  ],
  inEffect({ pod }) {
    return pod.metadata.deletionTimestamp !== undefined;
  },
  async execute(ctx, { pod }, action) {
    if (pod.metadata.deletionTimestamp) return { kind: 'noop', why: 'pod is already terminating' };
    const uid = pod.metadata.uid;
    if (!uid) return { kind: 'noop', why: 'pod has no UID' };
    const deleteOptions: Record<string, unknown> = { preconditions: { uid } };
    if (action.gracePeriodSeconds !== undefined)
      deleteOptions.gracePeriodSeconds = action.gracePeriodSeconds;
    try {
      if (action.evict) {
        await ctx.api.request('POST', podPathOf(pod, 'eviction'), {
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace },
            deleteOptions,
          },
        });
      } else {
        await ctx.api.request('DELETE', podPathOf(pod), {
          body: { apiVersion: 'v1', kind: 'DeleteOptions', ...deleteOptions },
        });
      }
    } catch (err) {
      if (isNotFound(err)) return { kind: 'noop', why: 'pod is gone' };
      if (isConflict(err)) return { kind: 'noop', why: 'the name now belongs to another pod' };
      if (action.evict && isTooManyRequests(err)) {
        return {
          kind: 'refused',
          why: `eviction refused: ${(err as Error).message}`,
          retryAfterMs: EVICTION_RETRY_MS,
        };
      }
      throw err;
    }
    return {
      kind: 'success',
      event: {
        target: podRef(pod),
        type: 'Warning',
        reason: action.evict ? 'PodEvicted' : 'PodDeleted',
        action: 'DeletePod',
        message: `policy ${ctx.policy} ${action.evict ? 'evicted' : 'deleted'} the pod because of ${ruleList(ctx.because)}`,
      },
    };
  },
};
