// The reconcile contract every controller shares, in controller-runtime's shape: a reconciler gets
// a key (never an event) and a context, brings the world in line with what it reads, and returns
// whether to look again. The worker runner (workers.ts) owns everything around that call: the
// reconcile ID on every log line, the duration and outcome metrics, and retries.
import type { Log } from '../base/log.ts';

export interface ReconcileResult {
  /** Look at the key again after this long, even if nothing changes. */
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** Unique per reconcile in this process: ties together every log line of one reconcile. */
  readonly id: string;
  /** Carries reconcileID and the key under the controller's key field (`pod`, `policy`). */
  readonly log: Log;
}

export type ReconcileFn<K extends string = string> = (
  key: K,
  ctx: ReconcileContext,
) => Promise<ReconcileResult | void>;

/**
 * Thrown by a reconcile to say "retrying cannot help": the key is forgotten, not requeued, and the
 * failure is logged. The key comes back only when something about it changes (a new watch event)
 * or at the next resync.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** How a reconcile ended, for deployguard_reconcile_total{result}. */
export type ReconcileOutcome = 'success' | 'requeue_after' | 'error' | 'terminal_error';

export interface ReconcileMetrics {
  observe(seconds: number, outcome: ReconcileOutcome): void;
}

/**
 * How long a failure asks to wait before the next try, if it says (an API error carrying the
 * server's Retry-After, in seconds): the runner then retries no sooner.
 */
export function retryAfterMs(err: unknown): number {
  const s = (err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s > 0 ? s * 1000 : 0;
}
