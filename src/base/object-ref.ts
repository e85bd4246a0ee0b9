// The one reference to a Kubernetes object: an Event's involvedObject, a pod's owner, the workload
// a loop is reported on, the target of an action. Cluster-scoped objects (Node, policy) have no
// namespace; uid is there whenever it is known.
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** `Kind namespace/name` (or `Kind name`) for log lines and messages. */
export function describeRef(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}
