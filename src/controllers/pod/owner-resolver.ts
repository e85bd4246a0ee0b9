// The workload a person would fix: a pod's ReplicaSet is an implementation detail of its
// Deployment, so a delete/recreate loop is reported on the Deployment when there is one.
import type { KubeApi } from '../../kube/client.ts';
import { asObject } from '../../base/json.ts';

export interface WorkloadRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface OwnerResolver {
  workload(namespace: string, owner: WorkloadRef): Promise<WorkloadRef>;
}

export class ApiOwnerResolver implements OwnerResolver {
  private readonly api: KubeApi;
  constructor(api: KubeApi) {
    this.api = api;
  }

  async workload(namespace: string, owner: WorkloadRef): Promise<WorkloadRef> {
    if (owner.kind !== 'ReplicaSet' || !owner.apiVersion.startsWith('apps/')) return owner;
    try {
      const rs = asObject(
        await this.api.request(
          'GET',
          `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/replicasets/${encodeURIComponent(owner.name)}`,
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
    return owner;
  }
}
