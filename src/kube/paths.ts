// REST paths of the API server, built in one place with every segment URL-encoded: names come from
// the cluster (and so from whoever created the object), and a name must never be able to change
// which path a request goes to.

export interface ResourceId {
  /** '' or absent for the core group. */
  group?: string;
  version: string;
  /** Plural resource name, e.g. 'pods'. */
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const seg = (s: string): string => encodeURIComponent(s);

/** `/api/v1/namespaces/ns/pods/name/status`, `/apis/apps/v1/replicasets`, ... */
export function resourcePath(r: ResourceId): string {
  let p = r.group ? `/apis/${seg(r.group)}/${seg(r.version)}` : `/api/${seg(r.version)}`;
  if (r.namespace !== undefined) p += `/namespaces/${seg(r.namespace)}`;
  p += `/${seg(r.resource)}`;
  if (r.name !== undefined) p += `/${seg(r.name)}`;
  if (r.subresource !== undefined) p += `/${seg(r.subresource)}`;
  return p;
}

/** A pod, or with `subresource` one of its subresources (eviction, ephemeralcontainers). */
export function podPath(namespace: string, name: string, subresource?: string): string {
  return resourcePath({ version: 'v1', resource: 'pods', namespace, name, subresource });
}

/** Pods of one namespace, or of every namespace. */
export function podsPath(namespace?: string): string {
  return resourcePath({ version: 'v1', resource: 'pods', namespace });
}

export function nodePath(name?: string): string {
  return resourcePath({ version: 'v1', resource: 'nodes', name });
}

export function namespacesPath(): string {
  return resourcePath({ version: 'v1', resource: 'namespaces' });
}

export function eventsPath(namespace: string, name?: string): string {
  return resourcePath({ version: 'v1', resource: 'events', namespace, name });
}
