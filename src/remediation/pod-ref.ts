// A pod as the target of writes: its object reference (for Events), its REST path, and the one
// UID-guarded label patch that Label and Isolate share.
import type { ObjectRef } from '../base/object-ref.ts';
import type { PodView } from '../engine/pod.ts';
import { mergePatch, type KubeApi } from '../kube/api.ts';
import { isNotFound, isUidMismatch } from '../kube/errors.ts';
import { podPath } from '../kube/paths.ts';

export function podRef(pod: PodView): ObjectRef {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    name: pod.metadata.name,
    namespace: pod.metadata.namespace,
    uid: pod.metadata.uid,
  };
}

/** The pod's REST path, or one of its subresources'. */
export function podPathOf(pod: PodView, subresource?: string): string {
  return podPath(pod.metadata.namespace, pod.metadata.name, subresource);
}

/**
 * Adds labels to the pod. metadata.uid in the patch makes the API server refuse it if the name
 * now belongs to another pod. Returns the pod's new resourceVersion, or 'gone'.
 */
export async function patchPodLabels(
  api: KubeApi,
  pod: PodView,
  labels: Record<string, string>,
): Promise<{ resourceVersion?: string } | 'gone'> {
  try {
    const written = await mergePatch<{ metadata?: { resourceVersion?: string } } | undefined>(
      api,
      podPathOf(pod),
      { metadata: { uid: pod.metadata.uid, labels } },
    );
    return { resourceVersion: written?.metadata?.resourceVersion };
  } catch (err) {
    if (isNotFound(err) || isUidMismatch(err)) return 'gone';
    throw err;
  }
}
