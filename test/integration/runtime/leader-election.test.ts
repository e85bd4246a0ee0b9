// Leader election against the real API server, with short timings (lease 6 s, renew deadline
// 4 s, retry 1 s: one slow etcd write under CI load must not cost the leader its lease): one
// leader at a time, handover after the lease expires when the leader just stops, well before
// expiry when it releases, and a Lease the server accepted with MicroTime timestamps.
import { expect } from 'chai';
import { LeaderElector } from '../../../src/runtime/leader-election.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { silentLog } from '../../../src/base/log.ts';
import { freshNamespace, kubectl, loadKubeConfig, waitFor } from '../cluster.ts';

const NAME = 'deployguard-leader';
const LEASE_MS = 6_000;
const RENEW_DEADLINE_MS = 4_000;
const RETRY_MS = 1_000;
const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

interface Candidate {
  id: string;
  elector: LeaderElector;
  abort: AbortController;
  done: Promise<void>;
  stopped: number;
}

function candidate(id: string, namespace: string): Candidate {
  const quiet = (): void => undefined;
  const log = silentLog;
  const elector = new LeaderElector({
    api: new KubeClient(() => loadKubeConfig(), { log }),
    namespace,
    name: NAME,
    identity: id,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    log,
    onStartedLeading: quiet,
    onStoppedLeading: () => c.stopped++,
  });
  const abort = new AbortController();
  const c: Candidate = { id, elector, abort, done: elector.run(abort.signal), stopped: 0 };
  return c;
}

/** Samples both candidates every 20 ms and records any moment when both say they lead. */
function overlapMonitor(cs: Candidate[]): { stop(): string[] } {
  const overlaps: string[] = [];
  const timer = setInterval(() => {
    const leaders = cs.filter((c) => c.elector.isLeader()).map((c) => c.id);
    if (leaders.length > 1) overlaps.push(`${new Date().toISOString()} ${leaders.join(',')}`);
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return overlaps;
    },
  };
}

interface LeaseJson {
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

async function getLease(namespace: string): Promise<LeaseJson> {
  const r = await kubectl(['get', 'lease', NAME, '-n', namespace, '-o', 'json']);
  return JSON.parse(r.stdout) as LeaseJson;
}

async function twoCandidates(): Promise<{ ns: string; leader: Candidate; follower: Candidate }> {
  const ns = await freshNamespace('dg-leader');
  const a = candidate('replica-a', ns);
  const b = candidate('replica-b', ns);
  const leader = await waitFor(
    'a leader',
    () => [a, b].find((c) => c.elector.isLeader()),
    15_000,
    20,
  );
  const follower = leader === a ? b : a;
  return { ns, leader, follower };
}

async function stopAll(...cs: Candidate[]): Promise<void> {
  for (const c of cs) c.abort.abort();
  await Promise.all(cs.map((c) => c.done));
}

describe('leader election on the real API server', function () {
  this.timeout(60_000);

  it('elects exactly one leader and writes a Lease with microsecond times', async () => {
    const { ns, leader, follower } = await twoCandidates();
    const monitor = overlapMonitor([leader, follower]);
    // Two leases' worth of renewals: the leader keeps it, the follower never leads.
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    expect(monitor.stop()).to.deep.equal([]);
    expect(leader.elector.isLeader()).to.equal(true);
    expect(follower.elector.isLeader()).to.equal(false);
    const lease = await getLease(ns);
    expect(lease.spec.holderIdentity).to.equal(leader.id);
    expect(lease.spec.leaseDurationSeconds).to.equal(LEASE_MS / 1000);
    expect(lease.spec.leaseTransitions).to.equal(0);
    expect(lease.spec.renewTime).to.match(MICRO);
    expect(lease.spec.acquireTime).to.match(MICRO);
    // Renewed within the lease (the API server's clock is this machine's): a leader that stopped
    // renewing would show an expired Lease here.
    expect(Date.now() - Date.parse(lease.spec.renewTime as string)).to.be.below(LEASE_MS);
    await stopAll(leader, follower);
  });

  it('hands over after about the lease duration when the leader stops without releasing', async () => {
    const { ns, leader, follower } = await twoCandidates();
    const monitor = overlapMonitor([leader, follower]);
    await new Promise((r) => setTimeout(r, 1_500));
    const stoppedAt = Date.now();
    leader.abort.abort();
    await leader.done;
    expect(leader.elector.isLeader()).to.equal(false);
    await waitFor('takeover', () => follower.elector.isLeader(), 15_000, 20);
    const handover = Date.now() - stoppedAt;
    expect(monitor.stop()).to.deep.equal([]);
    // The follower waits a full lease from the last renewal it saw (about one retry before the
    // stop), then up to one campaign retry (2.2 x retry with jitter) and an API round trip;
    // neither an early takeover nor one long after expiry fits in this window.
    expect(handover, `handover took ${handover} ms`).to.be.within(
      LEASE_MS - 1_500,
      LEASE_MS + 4_000,
    );
    expect(leader.stopped).to.equal(0); // stopped on purpose, not lost
    const lease = await getLease(ns);
    expect(lease.spec.holderIdentity).to.equal(follower.id);
    expect(lease.spec.leaseTransitions).to.equal(1);
    expect(lease.spec.renewTime).to.match(MICRO);
    await stopAll(follower);
  });

  it('hands over before the lease could expire when the leader releases', async () => {
    const { ns, leader, follower } = await twoCandidates();
    const monitor = overlapMonitor([leader, follower]);
    await new Promise((r) => setTimeout(r, 1_500));
    await leader.elector.release();
    // The clock starts once the release is written: how long that write takes under load is
    // not what this test is about.
    const releasedAt = Date.now();
    await leader.done;
    expect(leader.elector.isLeader()).to.equal(false);
    await waitFor('takeover', () => follower.elector.isLeader(), 15_000, 20);
    const handover = Date.now() - releasedAt;
    expect(monitor.stop()).to.deep.equal([]);
    // About one campaign retry; waiting for expiry would take a whole lease from the last renewal.
    expect(handover, `handover took ${handover} ms`).to.be.below(LEASE_MS);
    const lease = await getLease(ns);
    expect(lease.spec.holderIdentity).to.equal(follower.id);
    expect(lease.spec.leaseTransitions).to.equal(1);
    expect(lease.spec.leaseDurationSeconds).to.equal(LEASE_MS / 1000);
    await stopAll(follower);
  });
});
