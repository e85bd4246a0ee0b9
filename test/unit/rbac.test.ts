// config/rbac/ grants exactly what the code asks for: no more (least privilege), no less (the
// integration suite runs the operator with these roles and fails on any "forbidden").
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  LEADER_ELECTION_PERMISSIONS,
  clusterPermissions,
  permissionSet,
} from '../../src/controllers/permissions.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

function rules(file: string): string[] {
  const doc = parseAllDocuments(
    readFileSync(new URL(`../../config/rbac/${file}`, import.meta.url), 'utf8'),
  )[0]?.toJS() as { rules: Rule[] };
  return permissionSet(
    doc.rules.flatMap((r) =>
      r.apiGroups.flatMap((group) =>
        r.resources.map((resource) => ({ group, resource, verbs: r.verbs })),
      ),
    ),
  );
}

describe('RBAC in config/rbac', () => {
  it('the ClusterRole grants exactly what the operator and its actions use', () => {
    expect(rules('role.yaml')).to.deep.equal(clusterPermissions());
  });
  it('the leader-election Role grants exactly Lease get/create/update', () => {
    expect(rules('leader_election_role.yaml')).to.deep.equal(
      permissionSet(LEADER_ELECTION_PERMISSIONS),
    );
  });
  it('never grants secrets, pod creation, exec or wildcards', () => {
    const all = [...rules('role.yaml'), ...rules('leader_election_role.yaml')];
    for (const bad of [
      / secrets /,
      /core pods create/,
      /pods\/exec/,
      /\*/,
      / escalate| bind| impersonate/,
    ])
      expect(all.filter((p) => bad.test(p))).to.deep.equal([]);
  });
});
