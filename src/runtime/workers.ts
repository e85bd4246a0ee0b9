// Bounded worker loops over a WorkQueue, in controller-runtime's shape: only a TerminalError
// stops retrying a key; any other failure is retried with the queue's per-key backoff. Nothing
// a reconcile does (throwing, rejecting, returning junk) can escape and stop a worker.
import type { WorkQueue } from './workqueue.ts';

/** Thrown by a reconcile to say "retrying cannot help": the key is forgotten, not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export interface ReconcileResult {
  /** Look at the key again after this long, even if nothing changes. */
  requeueAfterMs?: number;
}

export type ReconcileFn<K> = (key: K) => Promise<ReconcileResult | void>;

export interface WorkerLog {
  error(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  debug(msg: string, meta?: object): void;
}

export interface WorkerOptions {
  /** Retries per key before it is logged, forgotten and dropped. Default: retry forever. */
  maxRetries?: number;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return 'unprintable error';
  }
}

/** A logger that throws must not take a worker down with it. */
function safeLog(log: WorkerLog, level: keyof WorkerLog, msg: string, meta: object): void {
  try {
    log[level](msg, meta);
  } catch {
    // Nothing better to do: the worker must keep going.
  }
}

/** What to do with a key once its reconcile has finished or failed. */
async function reconcileOne<K extends string>(
  queue: WorkQueue<K>,
  key: K,
  reconcile: ReconcileFn<K>,
  log: WorkerLog,
  maxRetries: number,
): Promise<void> {
  let result: ReconcileResult | void;
  try {
    result = await reconcile(key);
  } catch (err) {
    if (err instanceof TerminalError) {
      queue.forget(key);
      safeLog(log, 'error', 'reconcile failed permanently; not retrying', {
        key,
        error: describe(err),
      });
      return;
    }
    const retries = queue.numRequeues(key);
    if (retries >= maxRetries) {
      queue.forget(key);
      safeLog(log, 'error', 'reconcile failed too often; dropping key', {
        key,
        retries,
        error: describe(err),
      });
      return;
    }
    queue.addRateLimited(key);
    safeLog(log, 'warn', 'reconcile failed; will retry', {
      key,
      retries: retries + 1,
      error: describe(err),
    });
    return;
  }
  queue.forget(key);
  const after = result?.requeueAfterMs;
  if (typeof after === 'number' && Number.isFinite(after)) {
    queue.addAfter(key, Math.max(0, after));
    safeLog(log, 'debug', 'reconcile asked to requeue', { key, afterMs: after });
  }
}

/**
 * Runs `workers` concurrent loops: get -> reconcile -> (ok: forget + optional addAfter |
 * TerminalError: forget + log | other error: addRateLimited + log) -> done. Resolves when the
 * queue is shut down and drained. A throw never escapes.
 */
export async function runWorkers<K extends string>(
  queue: WorkQueue<K>,
  workers: number,
  reconcile: ReconcileFn<K>,
  log: WorkerLog,
  opts: WorkerOptions = {},
): Promise<void> {
  if (!Number.isInteger(workers) || workers < 1) {
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  }
  const maxRetries = opts.maxRetries ?? Infinity;
  const loop = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await reconcileOne(queue, key, reconcile, log, maxRetries);
      } catch (err) {
        // Only reachable if the queue itself misbehaves; keep the worker alive regardless.
        safeLog(log, 'error', 'worker failed handling key', { key, error: describe(err) });
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
