// resourceVersions are opaque strings by contract, but etcd's are decimal revisions: comparing
// them as numbers tells "our own write is still ahead of this watch event" (ADR 7).

/** The resourceVersion as a number when it is one; undefined means "can't compare". */
export function parseResourceVersion(rv: string | undefined): bigint | undefined {
  return rv !== undefined && /^[0-9]{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}
