// DeletePod: removes the pod, or with evict: true asks the Eviction API, which honours
// PodDisruptionBudgets. Both carry preconditions.uid, so a new pod that took the same name is never
// the one removed. 404 (already gone) and 409 (the UID no longer matches) are not failures: the
// pod the plan was about no longer exists.
//
// A pod that is already terminating is not done with: its deleter chose the grace period, and a
// tenant who deletes its own pod with an hour's grace keeps the containers running for that hour.
// DeletePod then deletes again with its own, shorter grace (the API server only ever shortens a
// pending deletion), and never through the Eviction API: a PDB has nothing left to protect.
import type { DeletePodAction } from '../api/policy.ts';
import type { PodView } from '../engine/pod.ts';
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
  inEffect({ pod }, action) {
    return terminatingWithin(pod, action);
  },
  async execute(ctx, { pod }, action) {
    if (terminatingWithin(pod, action))
      return { kind: 'noop', why: 'pod is already terminating within the grace period' };
    const uid = pod.metadata.uid;
    if (!uid) return { kind: 'noop', why: 'pod has no UID' };
    const terminating = pod.metadata.deletionTimestamp !== undefined;
    const deleteOptions: Record<string, unknown> = { preconditions: { uid } };
    const grace = terminating ? shortenedGrace(action) : action.gracePeriodSeconds;
    if (grace !== undefined) deleteOptions.gracePeriodSeconds = grace;
    try {
      if (action.evict && !terminating) {
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
    const evicted = action.evict && !terminating;
    return {
      kind: 'success',
      event: {
        target: podRef(pod),
        type: 'Warning',
        reason: evicted ? 'PodEvicted' : 'PodDeleted',
        action: 'DeletePod',
        message: terminating
          ? `policy ${ctx.policy} cut the pod's termination to ${grace} s (it was deleted with ${pod.metadata.deletionGracePeriodSeconds ?? '?'} s to go) because of ${ruleList(ctx.because)}`
          : `policy ${ctx.policy} ${evicted ? 'evicted' : 'deleted'} the pod because of ${ruleList(ctx.because)}`,
      },
    };
  },
};

/** Kubernetes' default grace period, for an action that names none. */
const DEFAULT_GRACE_SECONDS = 30;

/** The grace a terminating pod is cut to. */
function shortenedGrace(action: DeletePodAction): number {
  return action.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
}

/** Already terminating, with no more time left than the action would give it. */
function terminatingWithin(pod: PodView, action: DeletePodAction): boolean {
  if (pod.metadata.deletionTimestamp === undefined) return false;
  const left = pod.metadata.deletionGracePeriodSeconds;
  return left !== undefined && left <= shortenedGrace(action);
}
