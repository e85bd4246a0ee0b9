// The manager, in controller-runtime's shape: it starts and stops components and serves named
// health and readiness checks. Components that run everywhere (caches, HTTP servers) start at
// once; components that need the lease (controllers, periodic writers) start, in the order they
// were added, when this replica becomes leader, and stop the moment it stops being leader. A
// leader that loses its lease stops at once and `done` says so, so main can exit (a restart
// rejoins cleanly); a graceful stop drains the leader's work, releases the lease, then stops the
// rest. What the components are is the setup's business (src/setup/), never the manager's.
import { systemClock, within, type Clock } from '../base/clock.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { Check, Component } from './component.ts';

export type Ending = 'stopped' | 'lost-leadership';

/** The part of leader election the manager drives (LeaderElector implements it). */
export interface Election {
  run(signal: AbortSignal): Promise<void>;
  isLeader(): boolean;
  /** Time left before the renew deadline; 0 when not leading. */
  remainingMs(): number;
  release(): Promise<void>;
}

export interface LeaderHooks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export interface ManagerOptions {
  log: Log;
  clock?: Clock;
  /** Builds the election with the manager's hooks; absent: this replica leads from the start. */
  election?: (hooks: LeaderHooks) => Election;
  /** Told whenever leadership starts (true) or ends (false): the leader gauge. */
  onLeading?: (leading: boolean) => void;
}

/** What a lost lease leaves non-leader components to finish (they are not drained). */
const LOST_LEASE_STOP_MS = 2000;
/** The lease release gets at least this long, even past the shutdown deadline. */
const RELEASE_MS = 2000;

export class Manager {
  readonly done: Promise<Ending>;
  private resolveDone!: (e: Ending) => void;
  private readonly log: Log;
  private readonly clock: Clock;
  private readonly opts: ManagerOptions;
  private readonly components: Component[] = [];
  private readonly health = new Map<string, Check>();
  private readonly ready = new Map<string, Check>();
  private readonly election?: Election;
  /** Aborts starts in progress (a stop during start-up). */
  private readonly starting = new AbortController();
  /** Stops the elector; aborted last on shutdown, after the work is drained and the lease released. */
  private readonly electing = new AbortController();
  private electionRun?: Promise<void>;
  private leading = false;
  private ended = false;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.done = new Promise((r) => (this.resolveDone = r));
    this.election = opts.election?.({
      onStartedLeading: () => void this.lead(),
      onStoppedLeading: () => void this.lostLeadership(),
    });
  }

  add(c: Component): void {
    this.components.push(c);
  }

  addHealthCheck(name: string, check: Check): void {
    this.health.set(name, check);
  }

  addReadyCheck(name: string, check: Check): void {
    this.ready.set(name, check);
  }

  /** True while this replica leads now: the leader gate asks this before every write. */
  isLeader(): boolean {
    return this.leading && (this.election ? this.election.isLeader() : true);
  }

  /** Time left in this leader's term, when there is an election. */
  remainingMs(): number | undefined {
    return this.election?.remainingMs();
  }

  /** Starts the components that run everywhere, then campaigns (or leads at once). */
  async start(): Promise<void> {
    for (const c of this.components.filter((x) => !x.needsLeader))
      await c.start(this.starting.signal);
    if (this.election) this.electionRun = this.election.run(this.electing.signal);
    else void this.lead();
  }

  healthz(): { ok: boolean; detail: string } {
    return verdict(this.health);
  }

  readyz(): { ok: boolean; detail: string } {
    return verdict(this.ready);
  }

  private async lead(): Promise<void> {
    if (this.starting.signal.aborted) return;
    this.leading = true;
    this.opts.onLeading?.(true);
    this.log.info('leading: starting the leader components');
    for (const c of this.components.filter((x) => x.needsLeader)) {
      if (this.starting.signal.aborted || !this.leading) return;
      try {
        await c.start(this.starting.signal);
      } catch (err) {
        this.log.error('a leader component failed to start', {
          component: c.name,
          error: errorMessage(err),
        });
      }
    }
  }

  private async lostLeadership(): Promise<void> {
    // Writes stop now (the gate reads isLeader), and so does everything that counts or announces.
    this.leading = false;
    this.opts.onLeading?.(false);
    this.log.error('lost the leader lease: stopping');
    await this.stopAll(
      false,
      this.components.filter((c) => c.needsLeader),
      LOST_LEASE_STOP_MS,
    );
    await this.stopAll(
      false,
      this.components.filter((c) => !c.needsLeader),
      LOST_LEASE_STOP_MS,
    );
    this.end('lost-leadership');
  }

  /**
   * Graceful stop: no new work; the leader components drain (up to the deadline) while this
   * replica still leads, so their writes land; then the Lease is released, so the other replica
   * takes over within one retry period instead of a lease duration; then everything else stops.
   */
  async stop(deadlineMs: number): Promise<void> {
    const until = this.clock.now() + deadlineMs;
    const left = (): number => Math.max(0, until - this.clock.now());
    this.starting.abort();
    await this.stopAll(
      true,
      this.components.filter((c) => c.needsLeader),
      left,
    );
    this.leading = false;
    if (this.election)
      await within(this.clock, Math.max(left(), RELEASE_MS), this.election.release());
    this.electing.abort();
    await within(this.clock, RELEASE_MS, this.electionRun ?? Promise.resolve());
    await this.stopAll(
      true,
      this.components.filter((c) => !c.needsLeader),
      left,
    );
    this.opts.onLeading?.(false);
    this.end('stopped');
  }

  /** Stops components in reverse order, each bounded by what is left of the deadline. */
  private async stopAll(
    graceful: boolean,
    list: Component[],
    deadline: number | (() => number),
  ): Promise<void> {
    const left = typeof deadline === 'number' ? () => deadline : deadline;
    for (const c of [...list].reverse()) {
      const ms = left();
      await within(
        this.clock,
        ms,
        c.stop({ graceful, deadlineMs: ms }).catch((err: unknown) =>
          this.log.warn('a component failed to stop', {
            component: c.name,
            error: errorMessage(err),
          }),
        ),
      );
    }
  }

  private end(e: Ending): void {
    if (this.ended) return;
    this.ended = true;
    this.resolveDone(e);
  }
}

function verdict(checks: Map<string, Check>): { ok: boolean; detail: string } {
  const failing: string[] = [];
  for (const check of checks.values()) {
    const r = check();
    if (!r.ok) failing.push(r.detail);
  }
  return failing.length === 0
    ? { ok: true, detail: 'ok' }
    : { ok: false, detail: failing.join('; ') };
}
