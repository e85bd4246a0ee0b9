// core/v1 Events: what on-call engineers see in `kubectl describe` and `kubectl get events`. An
// attacker who creates thousands of pods must not turn this into a write storm against the API
// server, so a repeat of the same event on the same object within the window only bumps `count`,
// and a global token bucket caps new events; both are what client-go's EventCorrelator does.
import { randomBytes } from 'node:crypto';
import { REPORTING_CONTROLLER } from '../api/constants.ts';
import type { KubeApi } from '../kube/client.ts';
import { rfc3339 } from '../controllers/pod/annotation-codec.ts';

export type EventReason =
  | 'PolicyViolation'
  | 'PodLabeled'
  | 'PodIsolated'
  | 'PodDeleted'
  | 'PodEvicted'
  | 'NodeCordoned'
  | 'ActionSkipped'
  | 'PolicyInvalid'
  | 'RemediationLoop';

/** The object an event is about. Cluster-scoped objects (Node, policy) have no namespace. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export interface EventSpec {
  target: ObjectRef;
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
  /** What the operator did or would have done, e.g. DeletePod (core/v1 Event.action). */
  action?: string;
}

/**
 * Events are best effort and never on the path to a verdict: callers don't wait for them (`void
 * sink.emit(...)`), so a slow Event write never delays the annotation or an action. emit's promise
 * exists for tests; it never rejects.
 */
export interface EventSink {
  emit(e: EventSpec): Promise<void>;
}

interface Sent {
  name: string;
  namespace: string;
  count: number;
  first: number;
  last: number;
}

export interface EventRecorderOptions {
  api: KubeApi;
  /** reportingInstance: which replica wrote it. */
  instance: string;
  now?: () => number;
  /** A repeat within this window updates the existing event. Default 10 minutes. */
  windowMs?: number;
  /** New events per second, sustained; default 10 with a burst of 100. */
  ratePerSecond?: number;
  burst?: number;
  log: { warn(m: string, meta?: object): void; debug(m: string, meta?: object): void };
}

const MAX_MESSAGE = 1024;
const MAX_REMEMBERED = 10_000;

export class EventRecorder implements EventSink {
  private readonly sent = new Map<string, Sent>();
  private tokens: number;
  private refilledAt: number;
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly opts: EventRecorderOptions;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.rate = opts.ratePerSecond ?? 10;
    this.burst = opts.burst ?? 100;
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  /** Events still being written. */
  private readonly inFlight = new Set<Promise<void>>();

  /** Never rejects: an event that can't be written is logged, and reconcile goes on. */
  emit(e: EventSpec): Promise<void> {
    const p = this.send(e);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Waits for the events being written (shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async send(e: EventSpec): Promise<void> {
    const message =
      e.message.length > MAX_MESSAGE ? `${e.message.slice(0, MAX_MESSAGE - 1)}…` : e.message;
    const key = `${e.target.kind}\u0000${e.target.namespace ?? ''}\u0000${e.target.name}\u0000${e.target.uid ?? ''}\u0000${e.reason}\u0000${message}`;
    const t = this.now();
    const prior = this.sent.get(key);
    let posted: string | undefined;
    try {
      if (prior && t - prior.first < this.windowMs) {
        // Bumping the count is not worth a write more than once a minute per event.
        if (t - prior.last < 60_000) {
          prior.count++;
          return;
        }
        prior.count++;
        prior.last = t;
        await this.opts.api.request(
          'PATCH',
          `/api/v1/namespaces/${prior.namespace}/events/${prior.name}`,
          {
            contentType: 'application/merge-patch+json',
            body: { count: prior.count, lastTimestamp: rfc3339(new Date(t)) },
          },
        );
        return;
      }
      if (!this.take(t)) {
        this.opts.log.debug('event dropped by the rate limit', { reason: e.reason });
        return;
      }
      const namespace = e.target.namespace || 'default';
      const name = `${e.target.name.slice(0, 200)}.${randomBytes(8).toString('hex')}`;
      const stamp = rfc3339(new Date(t));
      // Remembered before the write: a repeat emitted while it is in flight only bumps the count.
      if (this.sent.size >= MAX_REMEMBERED) this.prune(t);
      this.sent.set(key, { name, namespace, count: 1, first: t, last: t });
      posted = key;
      await this.opts.api.request('POST', `/api/v1/namespaces/${namespace}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace },
          involvedObject: {
            apiVersion: e.target.apiVersion,
            kind: e.target.kind,
            name: e.target.name,
            namespace: e.target.namespace,
            uid: e.target.uid,
          },
          reason: e.reason,
          message,
          type: e.type,
          action: e.action ?? e.reason,
          source: { component: 'deployguard' },
          reportingComponent: REPORTING_CONTROLLER,
          reportingInstance: this.opts.instance.slice(0, 128),
          firstTimestamp: stamp,
          lastTimestamp: stamp,
          count: 1,
        },
      });
    } catch (err) {
      // Not written: the next occurrence tries again.
      if (posted !== undefined) this.sent.delete(posted);
      this.opts.log.warn('could not write event', {
        reason: e.reason,
        kind: e.target.kind,
        namespace: e.target.namespace,
        error: (err as Error).message,
      });
    }
  }

  private take(t: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = t;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private prune(t: number): void {
    for (const [k, s] of this.sent) if (t - s.first >= this.windowMs) this.sent.delete(k);
    // Still full: forget the oldest half rather than grow without bound.
    if (this.sent.size >= MAX_REMEMBERED) {
      let n = this.sent.size / 2;
      for (const k of this.sent.keys()) {
        if (n-- <= 0) break;
        this.sent.delete(k);
      }
    }
  }
}
