import { expect } from 'chai';
import fc from 'fast-check';
import { LeaderElector } from '../../../src/runtime/leader-election.ts';
import { microTime } from '../../../src/kube/wire-time.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import type { LeaderElectionOptions } from '../../../src/runtime/leader-election.ts';
import type { KubeApi, RequestOptions, Verb } from '../../../src/kube/api.ts';
import { ApiError } from '../../../src/kube/errors.ts';

const NS = 'dg-system';
const NAME = 'deployguard-leader';
const COLLECTION = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const PATH = `${COLLECTION}/${NAME}`;
const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const T0 = Date.UTC(2030, 0, 1);

type Fault = 'fail' | 'hang' | 'commit-then-fail' | undefined;
type Json = Record<string, unknown> & { metadata: Record<string, unknown>; spec: LeaseSpec };
interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/**
 * An in-memory Lease with the API server's rules that matter here: 404, AlreadyExists,
 * resourceVersion conflicts, and 400 for times that are not MicroTime.
 */
class LeaseStore {
  lease: Json | undefined;
  private rv = 100;
  readonly writes: { by: string; at: number; spec: LeaseSpec }[] = [];
  fault: (verb: Verb, owner: string) => Fault = () => undefined;
  latency: (owner: string, verb: Verb) => number = () => 0;

  private readonly clock: FakeClock;

  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  /** Writes as some other process would (bumps resourceVersion). */
  put(spec: LeaseSpec): void {
    this.lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: NAME, namespace: NS, resourceVersion: String(this.rv++) },
      spec,
    };
  }

  api(owner: string): KubeApi {
    return {
      request: <T>(verb: Verb, path: string, opts: RequestOptions = {}): Promise<T> =>
        this.request(owner, verb, path, opts) as Promise<T>,
      watch: () => Promise.reject(new Error('not used')),
    };
  }

  private async request(
    owner: string,
    verb: Verb,
    path: string,
    opts: RequestOptions,
  ): Promise<unknown> {
    const fault = this.fault(verb, owner);
    const aborted = (): ApiError => ApiError.transport('Aborted', 'aborted', verb, path);
    if (fault === 'fail')
      throw new ApiError({ status: 500, reason: 'InternalError', message: 'x', verb, path });
    if (fault === 'hang') {
      return new Promise((_, reject) =>
        opts.signal?.addEventListener('abort', () => reject(aborted()), { once: true }),
      );
    }
    let result: unknown;
    let error: unknown;
    try {
      result = structuredClone(this.apply(owner, verb, path, opts.body as Json | undefined));
    } catch (e) {
      error = e;
    }
    if (fault === 'commit-then-fail')
      error = ApiError.transport('ECONNRESET', 'reset after commit', verb, path);
    const latency = this.latency(owner, verb);
    if (latency > 0) {
      await new Promise<void>((resolve, reject) => {
        const cancel = this.clock.forOwner(owner).setTimer(resolve, latency).cancel;
        opts.signal?.addEventListener('abort', () => (cancel(), reject(aborted())), { once: true });
      });
    }
    if (opts.signal?.aborted) throw aborted();
    if (error) throw error;
    return result;
  }

  private apply(owner: string, verb: Verb, path: string, body: Json | undefined): unknown {
    const err = (status: number, reason: string): ApiError =>
      new ApiError({ status, reason, message: reason, verb, path });
    if (verb === 'GET' && path === PATH) {
      if (!this.lease) throw err(404, 'NotFound');
      return this.lease;
    }
    if (!body) throw err(400, 'BadRequest');
    for (const t of [body.spec.acquireTime, body.spec.renewTime]) {
      if (t !== undefined && !MICRO.test(t)) throw err(400, 'BadRequest');
    }
    if (verb === 'POST' && path === COLLECTION) {
      if (this.lease) throw err(409, 'AlreadyExists');
    } else if (verb === 'PUT' && path === PATH) {
      if (!this.lease) throw err(404, 'NotFound');
      if (body.metadata.resourceVersion !== this.lease.metadata.resourceVersion)
        throw err(409, 'Conflict');
    } else {
      throw err(405, 'MethodNotAllowed');
    }
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(this.rv++) } };
    this.writes.push({ by: owner, at: this.clock.t, spec: body.spec });
    return this.lease;
  }
}

interface Candidate {
  id: string;
  elector: LeaderElector;
  abort: AbortController;
  done: Promise<void>;
  ended: boolean;
  events: string[];
}

function candidate(
  id: string,
  clock: FakeClock,
  store: LeaseStore,
  extra: Partial<LeaderElectionOptions> = {},
): Candidate {
  const events: string[] = [];
  const quiet = (): void => undefined;
  const elector = new LeaderElector({
    api: store.api(id),
    namespace: NS,
    name: NAME,
    identity: id,
    clock: clock.forOwner(id),
    random: () => 0.5,
    log: { info: quiet, warn: quiet, error: quiet, debug: quiet },
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => events.push('stopped'),
    onNewLeader: (leader) => events.push(`leader:${leader}`),
    ...extra,
  });
  const abort = new AbortController();
  const c: Candidate = { id, elector, abort, done: Promise.resolve(), ended: false, events };
  c.done = elector.run(abort.signal).then(() => {
    c.ended = true;
  });
  return c;
}

function setup(): { clock: FakeClock; store: LeaseStore } {
  const clock = new FakeClock({ start: T0 });
  return { clock, store: new LeaseStore(clock) };
}

/** How long a candidate may wait between tries: retryPeriod plus the most jitter (factor 1.2). */
const MAX_RETRY = 2000 * 2.2;

describe('LeaderElector', () => {
  it('creates the lease and leads when there is none', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(0);
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.events).to.deep.equal(['leader:a', 'started']);
    const spec = store.lease?.spec;
    expect(spec).to.deep.equal({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: microTime(T0),
      renewTime: microTime(T0),
      leaseTransitions: 0,
    });
    a.abort.abort();
    await a.done;
  });

  it('does not take a lease another candidate keeps renewing, and renews its own', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(0);
    const b = candidate('b', clock, store);
    let bLed = false;
    let aLapsed = false;
    await clock.run(120_000, () => {
      bLed ||= b.elector.isLeader();
      aLapsed ||= !a.elector.isLeader();
    });
    expect(bLed).to.equal(false);
    expect(aLapsed).to.equal(false);
    expect(b.events).to.deep.equal(['leader:a']);
    const renewals = store.writes.filter((w) => w.by === 'a');
    expect(renewals.length).to.be.within(55, 61);
    expect(new Set(renewals.map((w) => w.spec.acquireTime)).size).to.equal(1);
    expect(store.lease?.spec.leaseTransitions).to.equal(0);
    expect(store.writes.filter((w) => w.by === 'b')).to.have.length(0);
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });

  for (const [what, renewTime] of [
    ['renewTime far in the future', T0 + 3_600_000],
    ['renewTime long ago', T0 - 3_600_000],
  ] as const) {
    it(`takes over an abandoned lease only after leaseDuration of local observation (${what})`, async () => {
      const { clock, store } = setup();
      store.put({
        holderIdentity: 'ghost',
        leaseDurationSeconds: 15,
        acquireTime: microTime(renewTime),
        renewTime: microTime(renewTime),
        leaseTransitions: 4,
      });
      const b = candidate('b', clock, store);
      let ledAt: number | undefined;
      await clock.run(30_000, () => {
        if (ledAt === undefined && b.elector.isLeader()) ledAt = clock.t;
      });
      expect(ledAt).to.be.a('number');
      expect((ledAt as number) - T0).to.be.within(15_000, 15_000 + MAX_RETRY);
      expect(store.lease?.spec).to.include({ holderIdentity: 'b', leaseTransitions: 5 });
      expect(store.lease?.spec.acquireTime).to.equal(microTime(ledAt as number));
      b.abort.abort();
      await b.done;
    });
  }

  it('keeps off a lease whose record keeps changing, then takes it once the changes stop', async () => {
    const { clock, store } = setup();
    const spec = (n: number): LeaseSpec => ({
      holderIdentity: 'other',
      leaseDurationSeconds: 15,
      renewTime: microTime(T0), // a frozen remote clock: only the change counts
      leaseTransitions: n,
    });
    store.put(spec(0));
    const b = candidate('b', clock, store);
    let bLed = false;
    for (let i = 1; i <= 6; i++) {
      await clock.run(10_000, () => (bLed ||= b.elector.isLeader()));
      store.put(spec(i));
    }
    expect(bLed).to.equal(false);
    const lastChange = clock.t;
    let ledAt: number | undefined;
    await clock.run(30_000, () => {
      if (ledAt === undefined && b.elector.isLeader()) ledAt = clock.t;
    });
    expect((ledAt as number) - lastChange).to.be.within(15_000, 15_000 + 2 * MAX_RETRY);
    b.abort.abort();
    await b.done;
  });

  it('steps down exactly at renewDeadline when renewals keep failing', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(5_000);
    store.fault = () => 'fail';
    const lastRenew = Date.parse(store.lease?.spec.renewTime as string);
    await clock.run(lastRenew + 10_000 - 1 - clock.t);
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.events).to.deep.equal(['leader:a', 'started']);
    await clock.run(1);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events).to.deep.equal(['leader:a', 'started', 'stopped']);
    expect(a.ended).to.equal(true);
  });

  it('counts a renewal from when it was sent, not from its late answer', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(1_000);
    // The next renewal commits at once but its answer takes 7 s; everything after fails.
    let slowPuts = 1;
    store.latency = (_owner, verb) => (verb === 'PUT' && slowPuts-- > 0 ? 7_000 : 0);
    await clock.run(1_000); // renewal sent at T0 + 2 s
    const sent = Date.parse(store.lease?.spec.renewTime as string);
    expect(sent).to.equal(T0 + 2_000);
    await clock.run(7_000);
    store.fault = () => 'fail';
    await clock.run(sent + 10_000 - 1 - clock.t);
    expect(a.elector.isLeader()).to.equal(true);
    await clock.run(1);
    expect(a.elector.isLeader()).to.equal(false);
  });

  it('steps down at renewDeadline even while its renewal hangs', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(3_000);
    store.fault = () => 'hang';
    const lastRenew = Date.parse(store.lease?.spec.renewTime as string);
    await clock.run(lastRenew + 10_000 - clock.t);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events.at(-1)).to.equal('stopped');
    expect(a.ended).to.equal(true);
  });

  it('is not leader past renewDeadline while frozen (SIGSTOP), and never writes after', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(1_000);
    const b = candidate('b', clock, store);
    await clock.run(1_000);
    const lastRenew = Date.parse(store.lease?.spec.renewTime as string);
    clock.paused.add('a');
    let overlap = false;
    await clock.run(40_000, () => (overlap ||= a.elector.isLeader() && b.elector.isLeader()));
    expect(overlap).to.equal(false);
    expect(b.elector.isLeader()).to.equal(true);
    expect(a.elector.isLeader()).to.equal(false);
    const takeover = store.writes.find((w) => w.by === 'b');
    expect((takeover?.at as number) - lastRenew).to.be.within(15_000, 15_000 + 2 * MAX_RETRY);
    const pausedAt = clock.t;
    clock.paused.delete('a');
    await clock.run(10_000);
    expect(a.events.at(-1)).to.equal('stopped');
    expect(a.ended).to.equal(true);
    expect(store.writes.filter((w) => w.by === 'a' && w.at >= pausedAt)).to.have.length(0);
    b.abort.abort();
    await b.done;
  });

  it('steps down at once when it sees another holder took the lease', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(5_000);
    store.put({ ...store.lease?.spec, holderIdentity: 'intruder' });
    await clock.run(2_000);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events.slice(-2)).to.deep.equal(['leader:intruder', 'stopped']);
  });

  it('release() hands the lease over within one retry period', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(1_000);
    const b = candidate('b', clock, store);
    await clock.run(6_000);
    await a.elector.release();
    await a.done;
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events).to.not.include('stopped'); // on purpose, not lost
    expect(store.lease?.spec.holderIdentity).to.equal(undefined);
    expect(store.lease?.spec).to.include({ leaseDurationSeconds: 1, leaseTransitions: 0 });
    const releasedAt = clock.t;
    let ledAt: number | undefined;
    await clock.run(10_000, () => {
      if (ledAt === undefined && b.elector.isLeader()) ledAt = clock.t;
    });
    expect((ledAt as number) - releasedAt).to.be.at.most(MAX_RETRY);
    expect(store.lease?.spec).to.include({ holderIdentity: 'b', leaseTransitions: 1 });
    const writes = store.writes.length;
    await a.elector.release(); // not ours any more: no write
    expect(store.writes.length).to.equal(writes);
    b.abort.abort();
    await b.done;
  });

  it('stops without releasing when its signal aborts: the lease expires by itself', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    await clock.run(1_000);
    const b = candidate('b', clock, store);
    await clock.run(5_000);
    a.abort.abort();
    await a.done;
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events).to.not.include('stopped');
    expect(store.lease?.spec.holderIdentity).to.equal('a');
    const lastRenew = Date.parse(store.lease?.spec.renewTime as string);
    let ledAt: number | undefined;
    await clock.run(30_000, () => {
      if (ledAt === undefined && b.elector.isLeader()) ledAt = clock.t;
    });
    expect((ledAt as number) - lastRenew).to.be.within(15_000, 15_000 + 2 * MAX_RETRY);
    b.abort.abort();
    await b.done;
  });

  it('lets only one of two simultaneous candidates create the lease', async () => {
    const { clock, store } = setup();
    const a = candidate('a', clock, store);
    const b = candidate('b', clock, store);
    await clock.run(30_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).to.have.length(1);
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  });

  it('keeps campaigning when callbacks and requests throw', async () => {
    const { clock, store } = setup();
    let failures = 3;
    store.fault = () => (failures-- > 0 ? 'fail' : undefined);
    const a = candidate('a', clock, store, {
      onStartedLeading: () => {
        throw new Error('boom');
      },
      onNewLeader: () => {
        throw new Error('boom');
      },
    });
    await clock.run(20_000);
    expect(a.elector.isLeader()).to.equal(true);
    a.abort.abort();
    await a.done;
  });

  it('never lets two candidates lead at once (random latency, failures, pauses, restarts)', async () => {
    const pause = fc.record({
      who: fc.constantFrom('a', 'b', 'c'),
      at: fc.integer({ min: 0, max: 80_000 }),
      ms: fc.integer({ min: 0, max: 40_000 }),
    });
    let runsWithLeader = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.double({ min: 0, max: 0.6, noNaN: true }),
        // Up to 9 s per response: beyond the 5 s margin between lease and renew deadline.
        fc.integer({ min: 0, max: 9_000 }),
        fc.array(pause, { maxLength: 4 }),
        async (seed, failRate, maxLatency, pauses) => {
          const { clock, store } = setup();
          let s = seed >>> 0;
          const rng = (): number => {
            // mulberry32: deterministic, so a failing case replays exactly
            s = (s + 0x6d2b79f5) >>> 0;
            let t = s;
            t = Math.imul(t ^ (t >>> 15), t | 1);
            t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
            return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
          };
          store.fault = () => {
            const r = rng();
            return r < failRate / 2 ? 'fail' : r < failRate ? 'commit-then-fail' : undefined;
          };
          store.latency = () => Math.floor(rng() * maxLatency);
          const live = new Map<string, Candidate>();
          // A candidate that lost leadership exits; its replacement (a new process) starts later.
          const start = (id: string): void => {
            const c = candidate(id, clock, store, { random: rng });
            live.set(id, c);
            void c.done.then(() => clock.forOwner('sim').setTimer(() => start(id), 1_000));
          };
          for (const id of ['a', 'b', 'c']) start(id);
          for (const p of pauses) {
            clock.forOwner('sim').setTimer(() => clock.paused.add(p.who), p.at);
            clock.forOwner('sim').setTimer(() => clock.paused.delete(p.who), p.at + p.ms);
          }
          const both: string[] = [];
          let led = false;
          await clock.run(120_000, () => {
            const leaders = [...live.values()].filter((c) => c.elector.isLeader());
            led ||= leaders.length > 0;
            if (leaders.length > 1) both.push(`${clock.t - T0}: ${leaders.map((c) => c.id)}`);
          });
          if (led) runsWithLeader++;
          for (const c of live.values()) c.abort.abort();
          await clock.run(0);
          expect(both).to.deep.equal([]);
        },
      ),
      { numRuns: 40 },
    );
    // The property is not vacuous: most schedules do elect someone.
    expect(runsWithLeader).to.be.greaterThan(20);
  });

  it('refuses timings client-go refuses', () => {
    const { clock, store } = setup();
    const base = {
      api: store.api('a'),
      namespace: NS,
      name: NAME,
      identity: 'a',
      clock,
      log: { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} },
      onStartedLeading: () => {},
      onStoppedLeading: () => {},
    };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000 })).to.throw(RangeError);
    expect(() => new LeaderElector({ ...base, retryPeriodMs: 9_000 })).to.throw(RangeError);
    expect(() => new LeaderElector({ ...base, identity: '' })).to.throw(RangeError);
    expect(() => new LeaderElector(base)).to.not.throw();
  });
});

describe('microTime', () => {
  it('writes RFC 3339 with exactly six fractional digits in UTC', () => {
    expect(microTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).to.equal('2025-01-02T03:04:05.678000Z');
    expect(microTime(0)).to.equal('1970-01-01T00:00:00.000000Z');
    expect(microTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678) + 0.25)).to.equal(
      '2025-01-02T03:04:05.678250Z',
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }), (ms) => {
        const s = microTime(ms);
        expect(s).to.match(MICRO);
        expect(Date.parse(s)).to.equal(ms);
      }),
    );
  });

  it('throws on a time that is not a number', () => {
    expect(() => microTime(Number.NaN)).to.throw(RangeError);
  });
});
