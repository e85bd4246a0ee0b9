// core/v1 Events: what on-call engineers see in `kubectl describe` and `kubectl get events`. An
// attacker who creates thousands of pods must not turn this into a write storm against the API
// server, so a repeat of the same event on the same object within the window only bumps `count`,
// and a global token bucket caps new events; both are what client-go's EventCorrelator does.
import { randomBytes } from 'node:crypto';
import { REPORTING_CONTROLLER } from '../api/constants.ts';
import { BoundedMap } from '../base/bounded-map.ts';
import { HeldBackEvents } from './held-back-events.ts';
import { systemClock, type Clock } from '../base/clock.ts';
import type { Log } from '../base/log.ts';
import type { ObjectRef } from '../base/object-ref.ts';
import { mergePatch, type KubeApi } from '../kube/api.ts';
import { isNamespaceTerminating } from '../kube/errors.ts';
import { eventsPath } from '../kube/paths.ts';
import { rfc3339 } from '../kube/wire-time.ts';

export type EventReason =
  | 'PolicyViolation'
  | 'PodLabeled'
  | 'PodIsolated'
  | 'PodDeleted'
  | 'PodEvicted'
  | 'NodeCordoned'
  | 'ActionSkipped'
  | 'PolicyInvalid'
  | 'RemediationLoop'
  | 'EventsHeldBack';

export interface EventSpec {
  /** The object the event is about; cluster-scoped objects (Node, policy) have no namespace. */
  target: ObjectRef;
  type: 'Normal' | 'Warning';
  reason: EventReason;
  message: string;
  /** What the operator did or would have done, e.g. DeletePod (core/v1 Event.action). */
  action?: string;
  /** The policy it is about, if any: Events the rate limit holds back are summarised by it. */
  policy?: string;
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
  clock?: Clock;
  /** A repeat within this window updates the existing event. Default 10 minutes. */
  windowMs?: number;
  /** New events per second, sustained; default 10 with a burst of 100. */
  ratePerSecond?: number;
  burst?: number;
  log: Pick<Log, 'warn' | 'debug'>;
  /** Told each time the rate limit holds an Event back, with its reason. */
  onHeldBack?: (reason: string) => void;
}

const MAX_MESSAGE = 1024;
/** Events remembered for correlation; beyond it the oldest is forgotten (its repeat is a new Event). */
const MAX_REMEMBERED = 10_000;

export class EventRecorder implements EventSink {
  private readonly sent = new BoundedMap<string, Sent>(MAX_REMEMBERED);
  private readonly heldBack = new HeldBackEvents();
  private tokens: number;
  private refilledAt: number;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly opts: EventRecorderOptions;

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.rate = opts.ratePerSecond ?? 10;
    this.burst = opts.burst ?? 100;
    this.tokens = this.burst;
    this.refilledAt = this.clock.now();
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
    const t = this.clock.now();
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
        await mergePatch(this.opts.api, eventsPath(prior.namespace, prior.name), {
          count: prior.count,
          lastTimestamp: rfc3339(new Date(t)),
        });
        return;
      }
      if (!this.take(t)) {
        // Held back, not lost: summarised by summarizeHeldBack().
        this.heldBack.add(e);
        this.opts.onHeldBack?.(e.reason);
        return;
      }
      const namespace = e.target.namespace || 'default';
      const name = `${e.target.name.slice(0, 200)}.${randomBytes(8).toString('hex')}`;
      // Remembered before the write: a repeat emitted while it is in flight only bumps the count.
      this.sent.set(key, { name, namespace, count: 1, first: t, last: t });
      posted = key;
      await this.post({ ...e, message }, name, namespace, t);
    } catch (err) {
      // Not written: the next occurrence tries again.
      if (posted !== undefined) this.sent.delete(posted);
      this.unwritten(err, {
        reason: e.reason,
        kind: e.target.kind,
        namespace: e.target.namespace,
        error: (err as Error).message,
      });
    }
  }

  /**
   * An Event the API server refused. Where the namespace is being deleted it refuses every new
   * object: expected while a tenant's namespace goes with its pods, so not a warning.
   */
  private unwritten(err: unknown, meta: object): void {
    if (isNamespaceTerminating(err))
      this.opts.log.debug('event not written: its namespace is being deleted', meta);
    else this.opts.log.warn('could not write event', meta);
  }

  private async post(e: EventSpec, name: string, namespace: string, t: number): Promise<void> {
    const stamp = rfc3339(new Date(t));
    await this.opts.api.request('POST', eventsPath(namespace), {
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: e.target.apiVersion,
          kind: e.target.kind,
          name: e.target.name,
          namespace: involvedNamespace(e.target, namespace),
          uid: e.target.uid,
        },
        reason: e.reason,
        message: e.message,
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
  }

  /**
   * One EventsHeldBack Event per namespace, policy and reason for what the rate limit held back
   * since the last call, on the Namespace (so `kubectl get events -n NS` shows it). Bounded (see
   * HeldBackEvents); not itself rate limited. Failures are logged; the counts are then lost, but
   * deployguard_events_held_back_total keeps them.
   */
  async summarizeHeldBack(): Promise<void> {
    const { groups, overflow } = this.heldBack.take();
    const t = this.clock.now();
    const summaries: EventSpec[] = groups.map((g) => ({
      target: { apiVersion: 'v1', kind: 'Namespace', name: g.namespace },
      type: 'Warning',
      reason: 'EventsHeldBack',
      policy: g.policy,
      message: `${g.count} ${g.reason} event${g.count === 1 ? '' : 's'}${g.policy ? ` of policy ${g.policy}` : ''} held back by the event rate limit; pods include ${g.sample.join(', ')}`,
    }));
    if (overflow > 0)
      summaries.push({
        target: { apiVersion: 'v1', kind: 'Namespace', name: 'default' },
        type: 'Warning',
        reason: 'EventsHeldBack',
        message: `${overflow} more events held back by the event rate limit, in namespaces beyond the ones summarised`,
      });
    for (const e of summaries) {
      const namespace = e.target.name;
      try {
        await this.post(e, `deployguard-held-back.${randomBytes(8).toString('hex')}`, namespace, t);
      } catch (err) {
        this.unwritten(err, {
          reason: e.reason,
          namespace,
          error: (err as Error).message,
        });
      }
    }
  }

  private take(t: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = t;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

/**
 * The API server takes an Event only where its involved object is: in that object's namespace,
 * or in `default` for a cluster-scoped one. A summary on a Namespace lives in that namespace (so
 * `kubectl get events -n NS` shows it), and then names it as its namespace too; without that the
 * server refused every summary with 422 (found by bench-operator; a fake API had accepted them).
 */
function involvedNamespace(
  target: EventSpec['target'],
  eventNamespace: string,
): string | undefined {
  if (target.namespace) return target.namespace;
  return target.kind === 'Namespace' && eventNamespace !== 'default' ? eventNamespace : undefined;
}
