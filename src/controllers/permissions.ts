// Everything the operator asks of the API server, in RBAC terms, with the reason for each: the
// source of truth that config/rbac/ must match exactly (test/unit/rbac.test.ts). Anything not
// listed is refused at runtime, and the integration suite fails on any "forbidden".
import type { Permission } from '../remediation/action.ts';
import { actionPermissions } from '../remediation/action-catalog.ts';
import { VERIFIED_OWNER_RESOURCES } from './pod/owner-verifier.ts';

/** Cluster-wide needs of the reconcilers and reporters (the actions declare their own). */
const OPERATOR_NEEDS: readonly (Permission & { why: string })[] = [
  {
    group: '',
    resource: 'pods',
    verbs: ['list', 'watch', 'patch'],
    why: 'judge pods; record violations',
  },
  { group: '', resource: 'namespaces', verbs: ['list', 'watch'], why: 'namespaceSelector labels' },
  { group: '', resource: 'nodes', verbs: ['list', 'watch'], why: 'cordon guards' },
  { group: '', resource: 'events', verbs: ['create', 'patch'], why: 'Events; patch bumps count' },
  {
    group: 'apps',
    resource: 'replicasets',
    verbs: ['get'],
    why: 'verify a pod owner claim; report a loop on its Deployment',
  },
  ...VERIFIED_OWNER_RESOURCES.filter((r) => r.resource !== 'replicasets').map((r) => ({
    group: r.group,
    resource: r.resource,
    verbs: ['get'],
    why: "verify a pod's claimed controller owner exists with that UID",
  })),
  {
    group: 'deployguard.dev',
    resource: 'containerdeploymentpolicies',
    verbs: ['get', 'list', 'watch'],
    why: "the policies; get: does another shard's policy still exist",
  },
  {
    group: 'deployguard.dev',
    resource: 'containerdeploymentpolicies/status',
    verbs: ['patch'],
    why: 'policy status',
  },
  {
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verbs: ['create'],
    why: 'secure metrics: whose bearer token is this',
  },
  {
    group: 'authorization.k8s.io',
    resource: 'subjectaccessreviews',
    verbs: ['create'],
    why: 'secure metrics: may that user get /metrics',
  },
  {
    group: 'wgpolicyk8s.io',
    resource: 'policyreports',
    verbs: ['get', 'list', 'create', 'update', 'delete'],
    why: "one PolicyReport per namespace; list finds a previous leader's at the start of a term",
  },
];

/** Needs in the operator's own namespace only. */
export const LEADER_ELECTION_PERMISSIONS: readonly Permission[] = [
  { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'] },
];

/** `group resource verb` strings, deduplicated and sorted. */
export function permissionSet(perms: readonly Permission[]): string[] {
  const out = new Set<string>();
  for (const p of perms)
    for (const v of p.verbs) out.add(`${p.group || 'core'} ${p.resource} ${v}`);
  return [...out].sort();
}

/** The operator's cluster-wide RBAC needs: its own and every action's. */
export function clusterPermissions(): string[] {
  return permissionSet([...OPERATOR_NEEDS, ...actionPermissions()]);
}
