// A controller as the manager runs it: a workqueue of keys, a pool of workers running one
// reconcile function, and optional hooks around the start (wait for caches, an initial pass).
// It needs the lease: only the leader reconciles. A graceful stop drains the keys in flight; a
// lost lease shuts the queue at once.
import type { Log } from '../base/log.ts';
import type { Component, StopOptions } from './component.ts';
import type { ReconcileFn, ReconcileMetrics } from './reconcile.ts';
import { runOnce, runWorkers } from './workers.ts';
import type { WorkQueue } from './workqueue.ts';

export interface ControllerOptions<K extends string> {
  /** `pod`, `policy`: the metrics label and the log field that names the key. */
  name: string;
  queue: WorkQueue<K>;
  workers: number;
  reconcile: ReconcileFn<K>;
  log: Log;
  metrics?: ReconcileMetrics;
  /** Before the workers start: wait for what the reconciler reads, and any initial pass. */
  beforeStart?: (signal: AbortSignal) => Promise<void>;
  /** Right after the workers start (e.g. queue every cached object once). */
  afterStart?: () => void;
}

export class Controller<K extends string = string> implements Component {
  readonly name: string;
  readonly needsLeader = true;
  private readonly opts: ControllerOptions<K>;

  constructor(opts: ControllerOptions<K>) {
    this.opts = opts;
    this.name = opts.name;
  }

  get queue(): WorkQueue<K> {
    return this.opts.queue;
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.opts.beforeStart?.(signal);
    if (signal.aborted || this.opts.queue.shuttingDown()) return;
    const { queue, workers, reconcile, log, metrics, name } = this.opts;
    // Resolves once the queue is shut down and empty; stop() waits on the drain, not on this.
    void runWorkers(queue, workers, reconcile, log, { metrics, keyField: name });
    this.opts.afterStart?.();
  }

  /** Reconciles one key now, through the same runner as the workers (an initial pass). */
  reconcileNow(key: K): Promise<void> {
    const { queue, reconcile, log, metrics, name } = this.opts;
    return runOnce(queue, key, reconcile, log, { metrics, keyField: name });
  }

  async stop(opts: StopOptions): Promise<void> {
    if (!opts.graceful) {
      this.opts.queue.shutDown();
      return;
    }
    const drained = await this.opts.queue.shutDownWithDrain(opts.deadlineMs);
    if (!drained)
      this.opts.log.warn('shutdown deadline passed with reconciles still running', {
        controller: this.name,
      });
  }
}
