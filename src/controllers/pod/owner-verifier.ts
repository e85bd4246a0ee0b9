// ownerReferences are written by the pod's creator: a claim, not a fact. A tenant who claims a
// controller owner that doesn't exist (or a real one from another namespace) would otherwise
// steer the guards: use up a real workload's loop budget, escape ignoreOwnerKinds, or stop the
// loop guard from deleting its own pods. So an owner counts only if an object of a known workload
// group and kind exists in the pod's namespace with that name and that UID. The answer is cached
// (by namespace, kind, name and UID), so a workload's pods cost one GET, not one each.
import { BoundedMap } from '../../base/bounded-map.ts';
import type { Clock } from '../../base/clock.ts';
import { asObject } from '../../base/json.ts';
import type { OwnerReference, PodView } from '../../engine/pod.ts';
import type { KubeApi } from '../../kube/api.ts';
import { isNotFound } from '../../kube/errors.ts';
import { resourcePath } from '../../kube/paths.ts';

/** The workload kinds that own pods, by apiVersion and kind: what the operator can verify. */
const WORKLOAD_KINDS: Readonly<Record<string, { group: string; resource: string }>> = {
  'apps/v1 ReplicaSet': { group: 'apps', resource: 'replicasets' },
  'apps/v1 StatefulSet': { group: 'apps', resource: 'statefulsets' },
  'apps/v1 DaemonSet': { group: 'apps', resource: 'daemonsets' },
  'batch/v1 Job': { group: 'batch', resource: 'jobs' },
  'v1 ReplicationController': { group: '', resource: 'replicationcontrollers' },
};

/** The resources the verifier reads (RBAC get): see controllers/permissions.ts. */
export const VERIFIED_OWNER_RESOURCES = Object.values(WORKLOAD_KINDS);

/** A confirmed owner is rechecked after this long; a refuted one sooner (it could appear). */
const CONFIRMED_TTL_MS = 5 * 60_000;
const REFUTED_TTL_MS = 30_000;
const MAX_REMEMBERED = 20_000;

export interface VerifiedPod {
  /** The pod as judged: only the controller references that hold. */
  view: PodView;
  /** Controller references that do not hold (named in the PolicyViolation Event). */
  falseClaims: OwnerReference[];
}

export class OwnerVerifier {
  private readonly known = new BoundedMap<string, { holds: boolean; at: number }>(MAX_REMEMBERED);
  private readonly api: KubeApi;
  private readonly clock: Clock;

  constructor(api: KubeApi, clock: Clock) {
    this.api = api;
    this.clock = clock;
  }

  /** The pod with its unverified controller references removed. Rejects when the cluster can't say. */
  async verify(pod: PodView): Promise<VerifiedPod> {
    const refs = pod.metadata.ownerReferences;
    if (!refs.some((r) => r.controller)) return { view: pod, falseClaims: [] };
    const falseClaims: OwnerReference[] = [];
    for (const r of refs)
      if (r.controller && !(await this.holds(pod.metadata.namespace, r))) falseClaims.push(r);
    if (falseClaims.length === 0) return { view: pod, falseClaims };
    const kept = refs.filter((r) => !falseClaims.includes(r));
    return {
      view: { ...pod, metadata: { ...pod.metadata, ownerReferences: kept } },
      falseClaims,
    };
  }

  private async holds(namespace: string, ref: OwnerReference): Promise<boolean> {
    const kind = WORKLOAD_KINDS[`${ref.apiVersion} ${ref.kind}`];
    // An owner the operator can't verify counts for nothing: the pod is judged as bare.
    if (!kind || !ref.name || !ref.uid) return false;
    const key = `${namespace}\u0000${ref.kind}\u0000${ref.name}\u0000${ref.uid}`;
    const now = this.clock.now();
    const cached = this.known.get(key);
    if (cached && now - cached.at < (cached.holds ? CONFIRMED_TTL_MS : REFUTED_TTL_MS))
      return cached.holds;
    let holds = false;
    try {
      const owner = asObject(
        await this.api.request(
          'GET',
          resourcePath({
            group: kind.group,
            version: 'v1',
            resource: kind.resource,
            namespace,
            name: ref.name,
          }),
        ),
      );
      holds = asObject(owner?.metadata)?.uid === ref.uid;
    } catch (err) {
      // Only "no such object" refutes the claim; any other failure is retried by the queue.
      if (!isNotFound(err)) throw err;
    }
    this.known.set(key, { holds, at: now });
    return holds;
  }
}

/** `ReplicaSet web-6d4f` for messages. */
export function describeClaims(claims: readonly OwnerReference[]): string {
  return claims.map((c) => `${c.kind} ${c.name}`).join(', ');
}
