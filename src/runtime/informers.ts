// The caches as one component: every reflector runs on every replica (a follower keeps warm
// caches, so a takeover needs no relist), with the health check (a watch failing past its
// backoff) and the readiness check (every cache synced) the manager serves.
import type { Clock } from '../base/clock.ts';
import type { Reflector } from '../kube/reflector.ts';
import type { Check, Component } from './component.ts';

export class Informers implements Component {
  readonly name = 'caches';
  readonly needsLeader = false;
  private readonly reflectors: Reflector<unknown>[] = [];
  private readonly clock: Clock;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  add<T>(r: Reflector<T>): void {
    this.reflectors.push(r as Reflector<unknown>);
  }

  async start(): Promise<void> {
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  synced(): boolean {
    return this.reflectors.every((r) => r.hasSynced());
  }

  /** Resolves once every cache has synced (or the signal aborts). */
  async waitForSync(signal: AbortSignal): Promise<void> {
    while (!this.synced() && !signal.aborted) await this.clock.sleep(100, signal);
  }

  readonly healthCheck: Check = () => {
    const dead = this.reflectors.filter((r) => !r.healthy()).map((r) => r.resource);
    return dead.length === 0
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: `watch failing past its backoff: ${dead.join(', ')}` };
  };

  readonly readyCheck: Check = () => {
    const unsynced = this.reflectors.filter((r) => !r.hasSynced()).map((r) => r.resource);
    return unsynced.length === 0
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: `caches not synced: ${unsynced.join(', ')}` };
  };
}
