// Leader election with two real replicas on the real control plane (docs/reliability.md, item 6):
// exactly one leads and writes; a killed leader is replaced within the lease duration plus a
// retry; a leader frozen past its lease makes no write after it wakes and exits; a leader that
// stops gracefully hands over at once by releasing the Lease.
import { expect } from 'chai';
import { freshNamespace, kubectl, waitFor } from '../cluster.ts';
import {
  OperatorProcess,
  applyPolicy,
  operatorAccount,
  type LogLine,
  operatorTest,
} from './harness.ts';
import {
  BASELINE,
  PRIVILEGED,
  annotated,
  create,
  get,
  pod,
  settledViolationEvents,
  sleep,
  type PodJson,
} from './objects.ts';

const LEASE = 'deployguard-leader';
const WRITE_LINES = new Set(['policy violation', 'action taken']);

/** Annotated by us and marked Running by kwok: nobody else has a reason to write it any more. */
async function settled(ns: string, name: string): Promise<PodJson> {
  return annotated(ns, name, 20_000, (p) => p.status?.phase === 'Running');
}

async function leaseHolder(ns: string): Promise<string> {
  const r = await kubectl(['get', 'lease', LEASE, '-n', ns, '-o', 'json'], { allowFail: true });
  if (r.code !== 0) return '';
  return (
    (JSON.parse(r.stdout) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? ''
  );
}

function identity(op: OperatorProcess): string {
  return String(op.logs.find((l) => l.msg === 'deployguard starting')?.identity);
}

/** Leader metric of a replica; -1 when it does not answer (stopped, exiting). */
async function leaderMetric(op: OperatorProcess): Promise<number> {
  try {
    const text = await op.metrics(1000);
    const m = /^deployguard_leader (\S+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return -1;
  }
}

function writeLines(op: OperatorProcess, from = 0): LogLine[] {
  return op.logs.slice(from).filter((l) => WRITE_LINES.has(l.msg));
}

interface Pair {
  own: string;
  ns: string;
  leader: OperatorProcess;
  follower: OperatorProcess;
}

/** Two replicas sharing one own namespace, kubeconfig and Audit policy; resolves once one leads. */
async function twoReplicas(): Promise<Pair> {
  const own = await freshNamespace('dg-op');
  const ns = await freshNamespace('dg-leader');
  await applyPolicy(own, `leader-${ns}`, {
    mode: 'Audit',
    match: { namespaces: [ns] },
    rules: BASELINE,
  });
  const kubeconfig = await operatorAccount(own);
  const args = ['--leader-elect'];
  const [a, b] = await Promise.all([
    OperatorProcess.start({ namespace: own, kubeconfig, args, name: 'A' }),
    OperatorProcess.start({ namespace: own, kubeconfig, args, name: 'B' }),
  ]);
  const leader = await waitFor(
    'a leader',
    async () => {
      const [la, lb] = await Promise.all([leaderMetric(a), leaderMetric(b)]);
      if (la === 1 && lb === 0) return a;
      if (lb === 1 && la === 0) return b;
      return undefined;
    },
    30_000,
    100,
  );
  return { own, ns, leader, follower: leader === a ? b : a };
}

describe('operator: leader election', function () {
  this.timeout(120_000);

  operatorTest('has exactly one leader, and only the leader writes', async () => {
    const { own, ns, leader, follower } = await twoReplicas();
    expect(await leaseHolder(own)).to.equal(identity(leader));
    expect(identity(leader)).to.not.equal(identity(follower));
    expect(await leader.ready()).to.equal(true);
    expect(await follower.ready()).to.equal(true);

    await create(ns, pod('priv', PRIVILEGED));
    const recorded = await settled(ns, 'priv');
    await sleep(2000);
    expect((await get<PodJson>('pod', 'priv', ns))?.metadata.resourceVersion).to.equal(
      recorded.metadata.resourceVersion,
    );
    expect(await settledViolationEvents(ns, 'priv')).to.equal(1);
    expect(writeLines(leader).map((l) => l.pod)).to.deep.equal([`${ns}/priv`]);
    expect(writeLines(follower)).to.deep.equal([]);
    // A follower runs no workers: it never even tries a write the gate has to refuse.
    expect(follower.logs.filter((l) => /not the leader/.test(JSON.stringify(l)))).to.deep.equal([]);
    expect(await leaderMetric(leader)).to.equal(1);
    expect(await leaderMetric(follower)).to.equal(0);
  });

  operatorTest('replaces a killed leader within lease duration plus retry', async () => {
    const { own, ns, leader, follower } = await twoReplicas();
    leader.signal('SIGKILL');
    const killedAt = Date.now();
    await leader.exited;
    await waitFor(
      'the follower leads',
      async () => (await leaderMetric(follower)) === 1,
      40_000,
      100,
    );
    const handover = Date.now() - killedAt;
    // 15 s lease + 2 s retry (+ up to 2.4 s jitter while campaigning) + slack for a loaded machine.
    expect(handover, `handover took ${handover} ms`).to.be.below(30_000);
    expect(await leaseHolder(own)).to.equal(identity(follower));

    await create(ns, pod('after-kill', PRIVILEGED));
    await settled(ns, 'after-kill');
    expect(writeLines(follower).map((l) => l.pod)).to.deep.equal([`${ns}/after-kill`]);
    expect(await settledViolationEvents(ns, 'after-kill')).to.equal(1);
  });

  operatorTest(
    'a leader frozen past its lease makes no write when it wakes, and exits',
    async () => {
      const { own, ns, leader: a, follower: b } = await twoReplicas();
      a.signal('SIGSTOP');
      try {
        await waitFor('B leads', async () => (await leaderMetric(b)) === 1, 30_000, 200);
        expect(await leaseHolder(own)).to.equal(identity(b));
        // A sleeps through this pod's creation; its watch delivers the event when it wakes.
        await create(ns, pod('while-frozen', PRIVILEGED));
        const recorded = await settled(ns, 'while-frozen');
        await sleep(500);
        const seen = a.logs.length;
        a.signal('SIGCONT');
        const code = await Promise.race([
          a.exited,
          new Promise<'running'>((r) => setTimeout(() => r('running'), 15_000)),
        ]);
        expect(code, 'the old leader exits on noticing it lost the lease').to.not.equal('running');
        expect(code).to.not.equal(0);
        expect(writeLines(a, seen), 'old leader write activity after waking').to.deep.equal([]);
        expect(
          a.logs.slice(seen).some((l) => l.msg === 'lost the leader lease: stopping'),
        ).to.equal(true);
        // Nothing it might have written is visible: the pod is as B left it, one event, B holds the Lease.
        expect((await get<PodJson>('pod', 'while-frozen', ns))?.metadata.resourceVersion).to.equal(
          recorded.metadata.resourceVersion,
        );
        expect(await settledViolationEvents(ns, 'while-frozen')).to.equal(1);
        expect(await leaseHolder(own)).to.equal(identity(b));
        expect(writeLines(b).map((l) => l.pod)).to.deep.equal([`${ns}/while-frozen`]);
      } finally {
        a.signal('SIGCONT');
      }
    },
  );

  operatorTest('a leader stopped gracefully releases the Lease for a fast handover', async () => {
    const { own, leader, follower } = await twoReplicas();
    expect(await leader.stop()).to.equal(0);
    const released = leader.logs.find((l) => l.msg === 'released leader lease');
    expect(released, 'the leader released its Lease').to.not.equal(undefined);
    // Timed from the release (how long shutdown takes before it is not the point; same clock).
    const releasedAt = Date.parse(String(released?.ts));
    await waitFor(
      'the follower leads',
      async () => (await leaderMetric(follower)) === 1,
      20_000,
      100,
    );
    const handover = Date.now() - releasedAt;
    // One campaign retry (2 s + up to 2.4 s jitter) after the release plus slack for a loaded
    // machine: still well before the 15 s lease could have expired.
    expect(handover, `handover took ${handover} ms`).to.be.below(12_000);
    expect(await leaseHolder(own)).to.equal(identity(follower));
  });
});
