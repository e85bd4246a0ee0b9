import { expect } from 'chai';
import type { PolicyAction } from '../../../src/api/policy.ts';
import type { CompiledPolicy } from '../../../src/engine/compiled-policy.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import type { NodeInfo } from '../../../src/remediation/action.ts';
import {
  Guards,
  type GuardInput,
  type GuardOptions,
  type GuardVerdict,
  type NodeCounts,
  type Ticket,
} from '../../../src/remediation/guards.ts';
import { compileGlob } from '../../../src/engine/glob.ts';
import { compiled, podJson, view, type Json } from '../builders.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const MIN = 60_000;
const RULES = { hostPaths: { denySensitive: true } };

function policy(guards: Json = {}, actions: Json[] = [{ type: 'DeletePod' }], name = 'p1') {
  return compiled({ mode: 'Enforce', rules: RULES, actions, guards }, name);
}

const RS = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'web-1',
  uid: 'rs-1',
  controller: true,
};
const DS = { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds', uid: 'ds-1', controller: true };

/** Who wrote what, as the API server records it: here nobody owns spec.nodeName, so the scheduler set it. */
const PLACED = [
  {
    manager: 'kubectl-create',
    operation: 'Update',
    fieldsV1: { 'f:spec': { 'f:containers': {} } },
  },
];
/** The creator wrote spec.nodeName itself. */
const PINNED = [
  { manager: 'kubectl-create', operation: 'Update', fieldsV1: { 'f:spec': { 'f:nodeName': {} } } },
];

function pod(meta: Json = {}, spec: Json = {}): PodView {
  return view(
    podJson({ nodeName: 'n1', ...spec }, { uid: 'pod-1', managedFields: PLACED, ...meta }),
  );
}

/** A pod in namespace ns-<i>: actions spread over namespaces, so only the policy's budget counts. */
const inNs = (i: number): PodView => pod({ namespace: `ns-${i}` });

function node(over: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name: 'n1',
    uid: 'node-1',
    unschedulable: false,
    controlPlane: false,
    labels: {},
    ...over,
  };
}

function input(
  c: CompiledPolicy,
  over: Partial<GuardInput> & { action?: PolicyAction } = {},
): GuardInput {
  const action = over.action ?? (c.policy.spec.actions[0] as PolicyAction);
  return {
    policy: c,
    planned: { policy: c.policy.name, action, because: [] },
    pod: over.pod ?? pod(),
    node: 'node' in over ? over.node : node(),
    nodes: over.nodes ?? counts(10, 0),
    podRunning: over.podRunning ?? true,
    now: over.now ?? T0,
  };
}

const guards = (o: Partial<GuardOptions> = {}) => new Guards({ dryRun: false, ...o });

function ticketOf(v: GuardVerdict): Ticket {
  if (!v.run) throw new Error(`refused: ${v.reason}`);
  return v.ticket;
}

/** `total` nodes of which `n` are unschedulable (named other than the pod's node n1). */
function counts(total: number, n: number): NodeCounts {
  return { total, unschedulable: new Set(Array.from({ length: n }, (_, i) => `other-${i}`)) };
}

describe('Guards: describing guards', () => {
  it('protected namespaces (exact and glob) skip every action type', () => {
    const g = guards();
    const c = policy({ protectedNamespaces: ['kube-system', 'team-*-prod'] }, [
      { type: 'Label', labels: { q: 'x' } },
      { type: 'Isolate' },
      { type: 'DeletePod' },
      { type: 'CordonNode' },
    ]);
    for (const ns of ['kube-system', 'team-a-prod']) {
      for (const action of c.policy.spec.actions) {
        const v = g.ask(input(c, { action, pod: pod({ namespace: ns }) }));
        expect(v, `${ns} ${action.type}`).to.include({
          run: false,
          outcome: 'skipped',
          guard: 'protectedNamespace',
        });
      }
    }
    expect(g.ask(input(c, { pod: pod({ namespace: 'team-a-dev' }) })).run).to.equal(true);
  });

  it('kube-system is protected by default', () => {
    const v = guards().ask(input(policy(), { pod: pod({ namespace: 'kube-system' }) }));
    expect(v).to.include({ run: false, guard: 'protectedNamespace' });
  });

  it("the operator's own namespace is always protected, even with an empty list", () => {
    const g = guards({ ownNamespace: 'deployguard-system' });
    const c = policy({ protectedNamespaces: [] });
    expect(g.ask(input(c, { pod: pod({ namespace: 'deployguard-system' }) }))).to.include({
      run: false,
      guard: 'protectedNamespace',
    });
    expect(g.ask(input(c, { pod: pod({ namespace: 'kube-system' }) })).run).to.equal(true);
  });

  it('ignoreOwnerKinds applies to DeletePod only, and only to the controller owner', () => {
    const g = guards();
    const c = policy({ ignoreOwnerKinds: ['DaemonSet'] }, [
      { type: 'DeletePod' },
      { type: 'Label', labels: { q: 'x' } },
    ]);
    const [del, label] = c.policy.spec.actions as PolicyAction[];
    const dsPod = pod({ ownerReferences: [DS] });
    expect(g.ask(input(c, { action: del, pod: dsPod }))).to.include({
      run: false,
      guard: 'ignoreOwnerKind',
    });
    expect(g.ask(input(c, { action: label, pod: dsPod })).run).to.equal(true);
    const nonController = pod({ ownerReferences: [{ ...DS, controller: false }] });
    expect(g.ask(input(c, { action: del, pod: nonController })).run).to.equal(true);
    expect(g.ask(input(c, { action: del, pod: pod({ ownerReferences: [RS] }) })).run).to.equal(
      true,
    );
  });

  it('never cordons a control-plane node or an unknown node', () => {
    const g = guards();
    const c = policy({ maxCordonedNodesPercent: 100 }, [{ type: 'CordonNode' }]);
    expect(g.ask(input(c, { node: node({ controlPlane: true }) }))).to.include({
      run: false,
      guard: 'controlPlaneNode',
    });
    expect(g.ask(input(c, { node: undefined }))).to.include({
      run: false,
      guard: 'unboundPod',
    });
    // Pinned but never started on the node: wait, report nothing.
    expect(g.ask(input(c, { podRunning: false }))).to.include({
      run: false,
      outcome: 'wait',
      guard: 'podNotRunning',
    });
    expect(g.ask(input(c)).run).to.equal(true);
  });

  it('cordon cap at the boundary: 4 nodes, 25% and 50%', () => {
    const g = guards();
    const run = (percent: number, nodes: NodeCounts) =>
      // A fresh Guards each time: a cordon let through is reserved against the cap.
      guards().ask(
        input(policy({ maxCordonedNodesPercent: percent }, [{ type: 'CordonNode' }]), { nodes }),
      ).run;
    expect(run(25, counts(4, 0))).to.equal(true); // 1/4 = 25%
    expect(run(25, counts(4, 1))).to.equal(false); // 2/4 = 50%
    expect(run(50, counts(4, 1))).to.equal(true); // 2/4
    expect(run(50, counts(4, 2))).to.equal(false); // 3/4
    expect(run(0, counts(100, 0))).to.equal(false); // 0 never cordons
    expect(run(100, counts(0, 0))).to.equal(true);
    expect(run(99, counts(0, 0))).to.equal(false);
    const v = g.ask(
      input(policy({ maxCordonedNodesPercent: 25 }, [{ type: 'CordonNode' }]), {
        nodes: counts(4, 1),
      }),
    );
    expect(v).to.include({ run: false, guard: 'cordonCap' });
  });

  it('a cordon let through counts against the cap before the node cache shows it', () => {
    const g = guards();
    const c = policy({ maxCordonedNodesPercent: 25 }, [{ type: 'CordonNode' }]);
    const first = g.ask(input(c, { node: node({ name: 'a' }), nodes: counts(4, 0) }));
    expect(first.run).to.equal(true);
    // Another worker, same moment, cache still shows nothing cordoned: 2 of 4 would be 50%.
    expect(g.ask(input(c, { node: node({ name: 'b' }), nodes: counts(4, 0) }))).to.include({
      run: false,
      guard: 'cordonCap',
    });
    // The first cordon failed: rolling its ticket back frees its slot.
    ticketOf(first).rollback();
    expect(g.ask(input(c, { node: node({ name: 'b' }), nodes: counts(4, 0) })).run).to.equal(true);
  });

  it('the cap does not apply to a node that is already cordoned (the action is a no-op)', () => {
    const c = policy({ maxCordonedNodesPercent: 25 }, [{ type: 'CordonNode' }]);
    const v = guards().ask(
      input(c, {
        node: node({ unschedulable: true }),
        nodes: { total: 4, unschedulable: new Set(['n1', 'a', 'b', 'c']) },
      }),
    );
    expect(v.run).to.equal(true);
  });

  it('loop: the 4th deletion of the same owner within the window is skipped, naming the owner', () => {
    const g = guards();
    const c = policy({ maxActionsPerMinute: 1000 });
    const p = pod({ ownerReferences: [RS] });
    for (let i = 0; i < 3; i++) {
      const v = g.ask(input(c, { pod: p, now: T0 + i * MIN }));
      expect(v.run, `deletion ${i}`).to.equal(true);
      ticketOf(v).commit();
    }
    const v = g.ask(input(c, { pod: p, now: T0 + 3 * MIN }));
    expect(v).to.include({ run: false, outcome: 'skipped', guard: 'loop' });
    expect(v.run === false && v.owner).to.deep.equal(RS);
    // Other owners, other policies and bare pods are not affected.
    expect(
      g.ask(input(c, { pod: pod({ ownerReferences: [DS] }), now: T0 + 3 * MIN })).run,
    ).to.equal(true);
    expect(g.ask(input(policy({}, undefined, 'p2'), { pod: p, now: T0 + 3 * MIN })).run).to.equal(
      true,
    );
    // Label is never stopped by the loop guard.
    const lc = policy({}, [{ type: 'Label', labels: { a: 'b' } }]);
    expect(g.ask(input(lc, { pod: p, now: T0 + 3 * MIN })).run).to.equal(true);
  });

  it('loop: deletions older than the window do not count', () => {
    const g = guards({ loopWindowMs: 10 * MIN });
    const c = policy({ maxActionsPerMinute: 1000 });
    const p = pod({ ownerReferences: [RS] });
    for (let i = 0; i < 3; i++) ticketOf(g.ask(input(c, { pod: p, now: T0 + i * MIN }))).commit();
    expect(g.ask(input(c, { pod: p, now: T0 + 10 * MIN - 1 })).run).to.equal(false);
    // The first deletion left the window: 2 remain.
    expect(g.ask(input(c, { pod: p, now: T0 + 10 * MIN })).run).to.equal(true);
    expect(g.ask(input(c, { pod: p, now: T0 + 13 * MIN })).run).to.equal(true);
  });

  it('loop threshold is configurable; bare pods are never a loop', () => {
    const g = guards({ loopThreshold: 1 });
    const c = policy();
    const p = pod({ ownerReferences: [RS] });
    ticketOf(g.ask(input(c, { pod: p, now: T0 }))).commit();
    expect(g.ask(input(c, { pod: p, now: T0 + 1 })).run).to.equal(false);
    const bare = pod();
    ticketOf(g.ask(input(c, { pod: bare, now: T0 }))).commit();
    expect(g.ask(input(c, { pod: bare, now: T0 + 1 })).run).to.equal(true);
  });

  it('forgetPolicy clears the loop memory', () => {
    const g = guards({ loopThreshold: 1 });
    const p = pod({ ownerReferences: [RS] });
    ticketOf(g.ask(input(policy(), { pod: p, now: T0 }))).commit();
    g.forgetPolicy('p1');
    expect(g.ask(input(policy(), { pod: p, now: T0 + 1 })).run).to.equal(true);
  });
});

describe('Guards: dry run', () => {
  it('reports dry_run for actions that would run', () => {
    const v = guards({ dryRun: true }).ask(input(policy()));
    expect(v).to.deep.equal({
      run: false,
      outcome: 'dry_run',
      guard: 'dryRun',
      reason: 'dry run: nothing is changed',
    });
  });
  it('the describing guards come first, so a dry run reports what would really happen', () => {
    const g = guards({ dryRun: true });
    expect(g.ask(input(policy(), { pod: pod({ namespace: 'kube-system' }) }))).to.include({
      outcome: 'skipped',
      guard: 'protectedNamespace',
    });
    const cordon = policy({ maxCordonedNodesPercent: 0 }, [{ type: 'CordonNode' }]);
    expect(g.ask(input(cordon))).to.include({ outcome: 'skipped', guard: 'cordonCap' });
    expect(g.ask(input(cordon, { node: node({ controlPlane: true }) }))).to.include({
      guard: 'controlPlaneNode',
    });
    const ds = policy({ ignoreOwnerKinds: ['DaemonSet'] });
    expect(g.ask(input(ds, { pod: pod({ ownerReferences: [DS] }) }))).to.include({
      guard: 'ignoreOwnerKind',
    });
  });
  it('a dry run never consumes the rate limit nor opens the breaker', () => {
    const g = guards({ dryRun: true });
    const c = policy({ maxActionsPerMinute: 1 });
    for (let i = 0; i < 5; i++) expect(g.ask(input(c))).to.include({ outcome: 'dry_run' });
    expect(g.breakerOpen('p1', T0)).to.equal(false);
  });
});

describe('Guards: rate limit and breaker', () => {
  it('maxActionsPerMinute N lets N through, then the breaker opens', () => {
    const g = guards();
    const c = policy({ maxActionsPerMinute: 3 });
    for (let i = 0; i < 3; i++)
      expect(g.ask(input(c, { now: T0 + i, pod: inNs(i) })).run).to.equal(true);
    expect(g.breakerOpen('p1', T0 + 3)).to.equal(false);
    const v = g.ask(input(c, { now: T0 + 3, pod: inNs(3) }));
    expect(v).to.include({ run: false, outcome: 'skipped', guard: 'breaker' });
    expect(g.breakerOpen('p1', T0 + 4)).to.equal(true);
  });

  it('stays open for a minute from opening, whatever is refused meanwhile, then runs at the limit', () => {
    const g = guards({ random: () => 0 });
    const c = policy({ maxActionsPerMinute: 2 });
    g.ask(input(c, { now: T0, pod: inNs(0) }));
    g.ask(input(c, { now: T0 + 1, pod: inNs(1) }));
    const opened = g.ask(input(c, { now: T0 + 2, pod: inNs(2) })); // opens at T0+2
    expect(opened).to.include({ run: false, guard: 'breaker', retryAfterMs: MIN });
    // Retries of refused pods don't push the cool-down out (they would keep it open forever).
    const later = g.ask(input(c, { now: T0 + 2 + 30_000, pod: inNs(3) }));
    expect(later).to.include({ run: false, retryAfterMs: 30_000 });
    expect(g.breakerOpen('p1', T0 + 2 + MIN - 1)).to.equal(true);
    expect(g.breakerOpen('p1', T0 + 2 + MIN)).to.equal(false);
    // Closed: the held-back actions run at the limit's pace, and it opens again beyond it.
    const t = T0 + 2 + MIN;
    expect(g.ask(input(c, { now: t, pod: inNs(4) })).run).to.equal(true);
    expect(g.ask(input(c, { now: t + 1, pod: inNs(5) })).run).to.equal(true);
    expect(g.ask(input(c, { now: t + 2, pod: inNs(6) })).run).to.equal(false);
  });

  it('the limit is per policy', () => {
    const g = guards();
    const a = policy({ maxActionsPerMinute: 1 }, undefined, 'a');
    const b = policy({ maxActionsPerMinute: 1 }, undefined, 'b');
    expect(g.ask(input(a)).run).to.equal(true);
    expect(g.ask(input(a)).run).to.equal(false);
    expect(g.ask(input(b)).run).to.equal(true);
    expect(g.breakerOpen('b', T0)).to.equal(false);
  });

  it('a sliding minute: actions older than a minute free their slot', () => {
    const g = guards();
    const c = policy({ maxActionsPerMinute: 2 });
    expect(g.ask(input(c, { now: T0, pod: inNs(0) })).run).to.equal(true);
    expect(g.ask(input(c, { now: T0 + 30_000, pod: inNs(1) })).run).to.equal(true);
    expect(g.ask(input(c, { now: T0 + MIN, pod: inNs(2) })).run).to.equal(true);
    expect(g.breakerOpen('p1', T0 + MIN)).to.equal(false);
  });

  it('skipped actions (guards before the rate limit) never count toward it', () => {
    const g = guards();
    const c = policy({ maxActionsPerMinute: 1 });
    for (let i = 0; i < 5; i++) g.ask(input(c, { pod: pod({ namespace: 'kube-system' }) }));
    expect(g.ask(input(c)).run).to.equal(true);
  });

  it('one namespace floods: its own breaker opens at its share, other namespaces still act', () => {
    const g = guards({ random: () => 0 });
    const c = policy({ maxActionsPerMinute: 8 }); // a namespace's share: 2
    const flood = pod({ namespace: 'tenant-a' });
    expect(g.ask(input(c, { now: T0, pod: flood })).run).to.equal(true);
    expect(g.ask(input(c, { now: T0 + 1, pod: flood })).run).to.equal(true);
    const v = g.ask(input(c, { now: T0 + 2, pod: flood }));
    expect(v).to.include({ run: false, guard: 'breaker', namespace: 'tenant-a' });
    expect(v.run === false && v.reason).to.contain('namespace tenant-a');
    expect(g.throttledNamespaces('p1', T0 + 3)).to.deep.equal(['tenant-a']);
    // The policy's own breaker stays closed, and another namespace is not held back.
    expect(g.breakerOpen('p1', T0 + 3)).to.equal(false);
    expect(g.ask(input(c, { now: T0 + 3, pod: pod({ namespace: 'tenant-b' }) })).run).to.equal(
      true,
    );
    // A minute after it opened, the flooding namespace gets its share again.
    expect(g.ask(input(c, { now: T0 + 2 + MIN, pod: flood })).run).to.equal(true);
  });
});

describe('Guards: the installer floors', () => {
  const floors = {
    protectedNamespaces: [compileGlob('kube-*')],
    maxCordonedNodesPercent: 25,
    maxActionsPerMinute: 4,
  };

  it('protected namespaces of the installation hold whatever the policy says', () => {
    const g = guards({ floors });
    const v = g.ask(
      input(policy({ protectedNamespaces: [] }), { pod: pod({ namespace: 'kube-system' }) }),
    );
    expect(v).to.include({ run: false, guard: 'protectedNamespace' });
    expect(v.run === false && v.reason).to.contain("operator's installation");
  });

  it("a policy can't raise the cordon cap above the floor", () => {
    const cordon = policy({ maxCordonedNodesPercent: 100 }, [{ type: 'CordonNode' }]);
    const v = guards({ floors }).ask(input(cordon, { nodes: counts(4, 1) })); // 2 of 4 = 50 %
    expect(v).to.include({ run: false, guard: 'cordonCap' });
    expect(v.run === false && v.reason).to.contain(
      "operator's limit of 25% (the policy asks 100%)",
    );
    expect(guards({ floors }).ask(input(cordon, { nodes: counts(4, 0) })).run).to.equal(true);
  });

  it("a policy can't raise the action budget above the floor, but can lower it", () => {
    const g = guards({ floors });
    const loose = policy({ maxActionsPerMinute: 1000 });
    for (let i = 0; i < 4; i++)
      expect(g.ask(input(loose, { now: T0 + i, pod: inNs(i) })).run).to.equal(true);
    expect(g.ask(input(loose, { now: T0 + 4, pod: inNs(4) }))).to.include({ guard: 'breaker' });
    const tight = policy({ maxActionsPerMinute: 1 }, undefined, 'p2');
    expect(g.ask(input(tight, { pod: inNs(0) })).run).to.equal(true);
    expect(g.ask(input(tight, { pod: inNs(1) })).run).to.equal(false);
  });
});

describe('Guards: evidence against a node', () => {
  it('a pod whose creator pinned it with spec.nodeName never gets its node cordoned', () => {
    const c = policy({ maxCordonedNodesPercent: 100 }, [{ type: 'CordonNode' }]);
    const v = guards().ask(input(c, { pod: pod({ managedFields: PINNED }) }));
    expect(v).to.include({ run: false, outcome: 'skipped', guard: 'nodeNamePinned' });
    expect(guards().ask(input(c)).run).to.equal(true);
  });

  it('nor one it pinned by hostname selector or node affinity', () => {
    const c = policy({ maxCordonedNodesPercent: 100 }, [{ type: 'CordonNode' }]);
    const bySelector = pod({}, { nodeSelector: { 'kubernetes.io/hostname': 'n1' } });
    expect(guards().ask(input(c, { pod: bySelector }))).to.include({ guard: 'nodeNamePinned' });
    const byAffinity = pod(
      {},
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
              ],
            },
          },
        },
      },
    );
    expect(guards().ask(input(c, { pod: byAffinity }))).to.include({ guard: 'nodeNamePinned' });
  });
});
