// A task run every N ms while the component runs: status flushes, report syncs, resyncs. Ticks
// never overlap (a slow tick delays the next one), and a failing tick is logged, never fatal.
import type { Clock, Timer } from '../base/clock.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { Component, StopOptions } from './component.ts';

export interface PeriodicOptions {
  name: string;
  everyMs: number;
  task: () => Promise<void>;
  clock: Clock;
  log: Log;
  needsLeader?: boolean;
  /** Runs once on a graceful stop (a last flush), after the timer is cancelled. */
  onGracefulStop?: () => Promise<void>;
}

export class Periodic implements Component {
  readonly name: string;
  readonly needsLeader: boolean;
  private readonly opts: PeriodicOptions;
  private timer: Timer | undefined;
  private stopped = false;

  constructor(opts: PeriodicOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.needsLeader = opts.needsLeader ?? true;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    this.stopped = false;
    this.arm();
  }

  async stop(opts: StopOptions): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    if (opts.graceful && this.opts.onGracefulStop) await this.run(this.opts.onGracefulStop);
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(() => {
      void this.run(this.opts.task).then(() => this.arm());
    }, this.opts.everyMs);
  }

  private async run(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.opts.log.error('periodic task failed', { task: this.name, error: errorMessage(err) });
    }
  }
}
