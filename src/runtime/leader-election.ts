// Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics (leaderelection):
// a held lease expires only when OUR clock says leaseDuration has passed since we last saw its
// record change (remote timestamps are never compared with local time, so clock skew between
// nodes does not matter), every write carries the resourceVersion we read, and a leader that
// cannot renew within renewDeadline stops at once. The Lease JSON is written by hand because
// @kubernetes/client-node 2.0.1 serialises MicroTime with milliseconds, which the server rejects.
import { systemClock, type Clock } from '../base/clock.ts';
import type { Log } from '../base/log.ts';
import type { KubeApi } from '../kube/api.ts';
import { resourcePath } from '../kube/paths.ts';
import { microTime } from '../kube/wire-time.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.ts';

export interface LeaderElectionOptions {
  api: KubeApi;
  namespace: string;
  /** Lease name, conventionally 'deployguard-leader'. */
  name: string;
  identity: string;
  /** How long a lease we saw unchanged stays valid. Default 15 000. */
  leaseDurationMs?: number;
  /** A leader that has not renewed for this long steps down. Default 10 000. */
  renewDeadlineMs?: number;
  /** Interval between attempts. Default 2 000. */
  retryPeriodMs?: number;
  clock?: Clock;
  random?: () => number;
  log: Pick<Log, 'debug' | 'info' | 'warn' | 'error'>;
  onStartedLeading: () => void;
  /**
   * Called once when leadership is LOST (renewal failed past renewDeadline, or another holder
   * took the lease). Not called when we stop on purpose (signal aborted, release()), so a
   * graceful shutdown can still release the lease before exiting.
   */
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

/** The parts of a coordination.k8s.io/v1 Lease we read and write; others are passed through. */
interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [field: string]: unknown;
}
interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [f: string]: unknown };
  spec?: LeaseSpec;
  [field: string]: unknown;
}

/** client-go's JitterUntil factor while campaigning, so candidates don't retry in lockstep. */
const JITTER_FACTOR = 1.2;

/** Identity of a lease record for change detection: what client-go compares (not metadata). */
function recordKey(spec: LeaseSpec | undefined): string {
  return JSON.stringify([
    spec?.holderIdentity ?? '',
    spec?.leaseDurationSeconds ?? 0,
    spec?.acquireTime ?? '',
    spec?.renewTime ?? '',
    spec?.leaseTransitions ?? 0,
  ]);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class LeaderElector {
  private readonly opts: LeaderElectionOptions;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly path: string;

  /** Last Lease read or written, and when (local clock) its record last changed. */
  private observed: Lease | undefined;
  private observedKey = '';
  private observedTime = 0;
  private reportedLeader = '';
  private leading = false;
  /** Start time of the last successful acquire/renew: earlier than the write took effect, so safe. */
  private lastRenewSuccess = -Infinity;
  private stop: AbortController | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    // The same constraints client-go's NewLeaderElector enforces.
    if (!(this.retryPeriodMs > 0)) throw new RangeError('retryPeriodMs must be > 0');
    if (!(this.leaseDurationMs > this.renewDeadlineMs))
      throw new RangeError('leaseDurationMs must be greater than renewDeadlineMs');
    if (!(this.renewDeadlineMs > JITTER_FACTOR * this.retryPeriodMs))
      throw new RangeError(`renewDeadlineMs must be greater than ${JITTER_FACTOR} * retryPeriodMs`);
    if (!opts.identity) throw new RangeError('identity must not be empty');
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.path = resourcePath({
      group: 'coordination.k8s.io',
      version: 'v1',
      resource: 'leases',
      namespace: opts.namespace,
      name: opts.name,
    });
  }

  /** True only while leading AND the last renewal is younger than renewDeadline: guard writes with it. */
  isLeader(): boolean {
    return this.leading && this.clock.now() - this.lastRenewSuccess < this.renewDeadlineMs;
  }

  /** How much longer this replica may act without another successful renewal (0: not leading). */
  remainingMs(): number {
    if (!this.leading) return 0;
    return Math.max(0, this.renewDeadlineMs - (this.clock.now() - this.lastRenewSuccess));
  }

  /**
   * Campaign until leading, renew until lost or signal aborts. Resolves after leadership ends
   * (lost, released, or the signal aborted), or when the signal aborts while campaigning.
   * Does not release the lease by itself: call release() for a quick handover.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.stop) throw new Error('LeaderElector is already running');
    const stop = new AbortController();
    this.stop = stop;
    const onAbort = (): void => {
      this.leading = false;
      stop.abort();
    };
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stop.signal.addEventListener('abort', () => {
      this.leading = false;
    });
    try {
      if (!(await this.acquire(stop.signal))) return;
      this.callback('onStartedLeading', () => this.opts.onStartedLeading());
      const lost = await this.renew(stop.signal);
      this.leading = false;
      if (lost) this.callback('onStoppedLeading', () => this.opts.onStoppedLeading());
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.stop = undefined;
    }
  }

  /**
   * Gives the lease up if we hold it, as client-go's ReleaseOnCancel does: no holder, lease
   * duration 1 s, so a candidate takes over on its next try. Stops a running campaign first.
   * Failures are logged, not thrown (the lease then expires by itself).
   */
  async release(): Promise<void> {
    this.leading = false;
    this.stop?.abort();
    // An attempt in flight may still write; let it land so we release with its resourceVersion.
    await this.inFlight;
    const lease = this.observed;
    if (lease?.spec?.holderIdentity !== this.opts.identity) return;
    const now = this.clock.now();
    const spec: LeaseSpec = {
      ...lease.spec,
      leaseDurationSeconds: 1,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: lease.spec.leaseTransitions ?? 0,
    };
    delete spec.holderIdentity;
    try {
      const updated = await this.opts.api.request<Lease>('PUT', this.path, {
        body: { ...lease, spec },
        timeoutMs: this.renewDeadlineMs,
      });
      this.observe(updated);
      this.opts.log.info('released leader lease', {
        lease: this.opts.name,
        identity: this.opts.identity,
      });
    } catch (err) {
      // A conflict means someone else wrote the lease since: it is not ours to clear any more.
      this.opts.log.warn('could not release leader lease; it will expire', {
        lease: this.opts.name,
        conflict: isConflict(err),
        error: describe(err),
      });
    }
  }

  /** Tries until the lease is ours (true) or the signal aborts (false). */
  private async acquire(signal: AbortSignal): Promise<boolean> {
    this.opts.log.info('campaigning for leader lease', {
      lease: `${this.opts.namespace}/${this.opts.name}`,
      identity: this.opts.identity,
    });
    while (!signal.aborted) {
      const start = this.clock.now();
      const ok = await this.attempt(signal, this.renewDeadlineMs);
      if (signal.aborted) return false; // we may hold it now; release() can still clear it
      if (ok) {
        this.lastRenewSuccess = start;
        this.leading = true;
        this.opts.log.info('acquired leader lease', { identity: this.opts.identity });
        return true;
      }
      const jitter = this.random() * JITTER_FACTOR * this.retryPeriodMs;
      await this.clock.sleep(this.retryPeriodMs + jitter, signal);
    }
    return false;
  }

  /** Renews every retryPeriod until leadership is lost (true) or the signal aborts (false). */
  private async renew(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      await this.clock.sleep(this.retryPeriodMs, signal);
      if (signal.aborted) return false;
      const remaining = this.lastRenewSuccess + this.renewDeadlineMs - this.clock.now();
      if (remaining > 0) {
        const start = this.clock.now();
        const ok = await this.attempt(signal, remaining);
        if (signal.aborted) return false;
        if (ok) {
          this.lastRenewSuccess = start;
          continue;
        }
        const holder = this.observed?.spec?.holderIdentity ?? '';
        if (
          holder === this.opts.identity &&
          this.clock.now() - this.lastRenewSuccess < this.renewDeadlineMs
        ) {
          this.opts.log.warn('failed to renew leader lease; retrying', {
            identity: this.opts.identity,
          });
          continue;
        }
      }
      this.leading = false;
      this.opts.log.error('lost leader lease', {
        identity: this.opts.identity,
        holder: this.observed?.spec?.holderIdentity ?? '',
        sinceLastRenewMs: this.clock.now() - this.lastRenewSuccess,
      });
      return true;
    }
  }

  /** One tryAcquireOrRenew, abandoned after limitMs or when the signal aborts. */
  private async attempt(outer: AbortSignal, limitMs: number): Promise<boolean> {
    const ctl = new AbortController();
    const abort = (): void => ctl.abort();
    outer.addEventListener('abort', abort, { once: true });
    try {
      const tried = this.tryAcquireOrRenew(ctl.signal, limitMs).catch((err: unknown) => {
        this.opts.log.warn('leader lease attempt failed', { error: describe(err) });
        return false;
      });
      this.inFlight = tried;
      const timedOut = this.clock.sleep(limitMs, ctl.signal).then(
        () => false,
        () => false,
      );
      const aborted = new Promise<boolean>((resolve) => {
        if (ctl.signal.aborted) resolve(false);
        ctl.signal.addEventListener('abort', () => resolve(false), { once: true });
      });
      return await Promise.race([tried, timedOut, aborted]);
    } finally {
      ctl.abort();
      outer.removeEventListener('abort', abort);
    }
  }

  /** client-go's tryAcquireOrRenew: GET (or create), respect a valid foreign holder, PUT with the read resourceVersion. */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    const api = this.opts.api;
    const now = this.clock.now();
    let lease: Lease;
    try {
      lease = await api.request<Lease>('GET', this.path, { timeoutMs, signal });
    } catch (err) {
      if (!isNotFound(err) || signal.aborted) throw err;
      const created = await api
        .request<Lease>('POST', this.path.slice(0, this.path.lastIndexOf('/')), {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: this.spec(undefined, now),
          },
          timeoutMs,
          signal,
        })
        .catch((e: unknown) => {
          if (!isAlreadyExists(e)) throw e;
          this.opts.log.debug('leader lease created by another candidate first');
          return undefined;
        });
      if (!created) return false;
      this.observe(created);
      return true;
    }
    if (signal.aborted) return false;
    this.observe(lease);

    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.opts.identity && this.leaseValid()) {
      this.opts.log.debug('leader lease held by another candidate', { holder });
      return false;
    }
    try {
      const updated = await api.request<Lease>('PUT', this.path, {
        body: {
          ...lease,
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          spec: this.spec(lease.spec, now),
        },
        timeoutMs,
        signal,
      });
      this.observe(updated);
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
      this.opts.log.debug('lost a race for the leader lease (conflict)');
      return false;
    }
  }

  /** The spec we write: ours from now, keeping acquireTime/transitions if we already held it. */
  private spec(old: LeaseSpec | undefined, now: number): LeaseSpec {
    const ours = old?.holderIdentity === this.opts.identity;
    const transitions = old?.leaseTransitions ?? 0;
    return {
      ...old,
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.leaseDurationMs / 1000)),
      acquireTime: ours && old?.acquireTime ? old.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: old === undefined ? 0 : ours ? transitions : transitions + 1,
    };
  }

  /** Records a lease read or written; observedTime moves only when its record changed. */
  private observe(lease: Lease): void {
    this.observed = lease;
    const key = recordKey(lease.spec);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedTime = this.clock.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      this.opts.log.info('new leader observed', { leader: holder });
      const onNewLeader = this.opts.onNewLeader;
      if (onNewLeader) this.callback('onNewLeader', () => onNewLeader(holder));
    }
  }

  /** Valid while our clock says less than its duration has passed since we saw it change. */
  private leaseValid(): boolean {
    const seconds = this.observed?.spec?.leaseDurationSeconds;
    const durationMs =
      typeof seconds === 'number' && seconds > 0 ? seconds * 1000 : this.leaseDurationMs;
    return this.clock.now() < this.observedTime + durationMs;
  }

  private callback(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error(`${name} callback threw`, { error: describe(err) });
    }
  }
}
