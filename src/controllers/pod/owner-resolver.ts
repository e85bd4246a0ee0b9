// The workload a person would fix: a pod's ReplicaSet is an implementation detail of its
// Deployment, so a delete/recreate loop is reported on the Deployment when there is one.
import { asObject } from '../../base/json.ts';
import type { ObjectRef } from '../../base/object-ref.ts';
import type { OwnerReference } from '../../engine/pod.ts';
import type { KubeApi } from '../../kube/api.ts';
import { resourcePath } from '../../kube/paths.ts';
import type { WorkloadResolver } from '../../remediation/remediator.ts';

export class ApiOwnerResolver implements WorkloadResolver {
  private readonly api: KubeApi;
  constructor(api: KubeApi) {
    this.api = api;
  }

  async workload(namespace: string, owner: OwnerReference): Promise<ObjectRef> {
    const fallback: ObjectRef = {
      apiVersion: owner.apiVersion,
      kind: owner.kind,
      name: owner.name,
      uid: owner.uid,
    };
    if (owner.kind !== 'ReplicaSet' || !owner.apiVersion.startsWith('apps/')) return fallback;
    try {
      const rs = asObject(
        await this.api.request(
          'GET',
          resourcePath({
            group: 'apps',
            version: 'v1',
            resource: 'replicasets',
            namespace,
            name: owner.name,
          }),
        ),
      );
      const refs = asObject(rs?.metadata)?.ownerReferences;
      for (const r of Array.isArray(refs) ? refs : []) {
        const o = asObject(r);
        if (o?.controller === true && o.kind === 'Deployment' && typeof o.name === 'string') {
          return {
            apiVersion: String(o.apiVersion ?? 'apps/v1'),
            kind: 'Deployment',
            name: o.name,
            uid: String(o.uid ?? ''),
          };
        }
      }
    } catch {
      // Report on the ReplicaSet: less helpful, never wrong.
    }
    return fallback;
  }
}
