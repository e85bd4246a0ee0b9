// Leader election against the real API server, with short timings (lease 3 s, renew deadline
// 2 s, retry 0.5 s): one leader at a time, handover after the lease expires when the leader
// just stops, within about one retry period when it releases, and a Lease the server accepted
// with MicroTime timestamps.
import { expect } from 'chai';
import { LeaderElector } from '../../../src/controller/leader-election.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { freshNamespace, kubectl, loadKubeConfig, waitFor } from '../cluster.ts';

const NAME = 'deployguard-leader';
const LEASE_MS = 3_000;
const RETRY_MS = 500;
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
  const log = { info: quiet, warn: quiet, error: quiet, debug: quiet };
  const elector = new LeaderElector({
    api: new KubeClient(() => loadKubeConfig(), { log }),
    namespace,
    name: NAME,
    identity: id,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: 2_000,
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
    // Several renewals' worth: the leader keeps it, the follower never leads.
    await new Promise((r) => setTimeout(r, 4 * LEASE_MS));
    expect(monitor.stop()).to.deep.equal([]);
    expect(leader.elector.isLeader()).to.equal(true);
    expect(follower.elector.isLeader()).to.equal(false);
    const lease = await getLease(ns);
    expect(lease.spec.holderIdentity).to.equal(leader.id);
    expect(lease.spec.leaseDurationSeconds).to.equal(3);
    expect(lease.spec.leaseTransitions).to.equal(0);
    expect(lease.spec.renewTime).to.match(MICRO);
    expect(lease.spec.acquireTime).to.match(MICRO);
    // Renewed recently (the API server's clock is this machine's).
    expect(Date.now() - Date.parse(lease.spec.renewTime as string)).to.be.below(2_000);
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
    // The follower waits a full lease from the last renewal it saw (at most one retry before the stop).
    expect(handover).to.be.within(LEASE_MS - RETRY_MS - 200, LEASE_MS + 2 * 2.2 * RETRY_MS + 1_000);
    expect(leader.stopped).to.equal(0); // stopped on purpose, not lost
    const lease = await getLease(ns);
    expect(lease.spec.holderIdentity).to.equal(follower.id);
    expect(lease.spec.leaseTransitions).to.equal(1);
    expect(lease.spec.renewTime).to.match(MICRO);
    await stopAll(follower);
  });

  it('hands over within about one retry period when the leader releases', async () => {
    const { ns, leader, follower } = await twoCandidates();
    const monitor = overlapMonitor([leader, follower]);
    await new Promise((r) => setTimeout(r, 1_500));
    const releasedAt = Date.now();
    await leader.elector.release();
    await leader.done;
    expect(leader.elector.isLeader()).to.equal(false);
    await waitFor('takeover', () => follower.elector.isLeader(), 15_000, 20);
    const handover = Date.now() - releasedAt;
    expect(monitor.stop()).to.deep.equal([]);
    expect(handover).to.be.below(2.2 * RETRY_MS + 700);
    const lease = await getLease(ns);
    expect(lease.spec.holderIdentity).to.equal(follower.id);
    expect(lease.spec.leaseTransitions).to.equal(1);
    expect(lease.spec.leaseDurationSeconds).to.equal(3);
    await stopAll(follower);
  });
});
