// guards.maxActionsPerMinute: a sliding minute of actions per policy, and the breakers it opens.
// Two levels, so one tenant can't suspend enforcement for everyone: each namespace may use only a
// share of the policy's budget (its own breaker opens when it floods, and only its pods wait),
// and the policy's budget is the cluster-wide ceiling (its breaker holds every namespace back).
// Only actions that really run take a slot; one that changed nothing gives it back (ticket
// rollback), so re-judging pods that are already remediated never opens a breaker.

const MINUTE = 60_000;
/** Retries after a breaker closes are spread over this long, not all at once. */
const BREAKER_JITTER_MS = 10_000;
/** The share of a policy's budget one namespace may use in a minute. */
export const NAMESPACE_SHARE = 0.25;
/** Namespaces tracked per policy; quiet ones are forgotten first. */
const MAX_NAMESPACES = 10_000;

/** One sliding minute and the breaker it opens. */
class Window {
  /** Times of actions let through in the last minute. */
  ran: number[] = [];
  openedAt?: number;

  /** Open now? It closes a minute after it opened, and the minute starts afresh. */
  open(now: number): boolean {
    if (this.openedAt === undefined) return false;
    if (now - this.openedAt >= MINUTE) {
      this.openedAt = undefined;
      this.ran = [];
    }
    return this.openedAt !== undefined;
  }

  recent(now: number): number {
    while (this.ran.length > 0 && now - (this.ran[0] as number) >= MINUTE) this.ran.shift();
    return this.ran.length;
  }

  /** Opens the breaker (unless it is open already); when to look again. */
  trip(now: number, jitter: number): number {
    if (!this.open(now)) this.openedAt = now;
    return Math.max(0, (this.openedAt ?? now) + MINUTE - now) + jitter;
  }

  giveBack(at: number): void {
    const i = this.ran.lastIndexOf(at);
    if (i >= 0) this.ran.splice(i, 1);
  }
}

interface PolicyRate {
  cluster: Window;
  namespaces: Map<string, Window>;
}

export type RateVerdict =
  | { ok: true; giveBack: () => void }
  | { ok: false; reason: string; retryAfterMs: number; namespace?: string };

/** A namespace's share of a budget: at least one action a minute. */
export function namespaceShare(max: number): number {
  return Math.max(1, Math.ceil(max * NAMESPACE_SHARE));
}

export class RateLimit {
  private readonly rates = new Map<string, PolicyRate>();
  private readonly random: () => number;

  constructor(random: () => number) {
    this.random = random;
  }

  /** Takes a slot for one action of the policy in `namespace` at `now`, or says which breaker is open. */
  take(policy: string, namespace: string, max: number, now: number): RateVerdict {
    const r = this.rate(policy);
    const ns = this.namespace(r, namespace);
    const jitter = (): number => Math.floor(this.random() * BREAKER_JITTER_MS);
    // The cool-down starts when a breaker opens, not at each refusal: otherwise the retries of
    // the pods it refused would keep it open for as long as they exist.
    if (r.cluster.open(now) || r.cluster.recent(now) >= max)
      return {
        ok: false,
        reason: `breaker open: more than guards.maxActionsPerMinute (${max}) actions in a minute`,
        retryAfterMs: r.cluster.trip(now, jitter()),
      };
    const share = namespaceShare(max);
    if (ns.open(now) || ns.recent(now) >= share)
      return {
        ok: false,
        namespace,
        reason: `breaker open for namespace ${namespace}: more than ${share} actions in a minute there (its share of guards.maxActionsPerMinute ${max}); other namespaces are not held back`,
        retryAfterMs: ns.trip(now, jitter()),
      };
    r.cluster.ran.push(now);
    ns.ran.push(now);
    return {
      ok: true,
      giveBack: () => {
        r.cluster.giveBack(now);
        ns.giveBack(now);
      },
    };
  }

  /** Whether the policy's cluster-wide breaker is open now. */
  breakerOpen(policy: string, now: number): boolean {
    return this.rates.get(policy)?.cluster.open(now) ?? false;
  }

  /** Namespaces whose own breaker is open now for the policy (sorted). */
  throttledNamespaces(policy: string, now: number): string[] {
    const r = this.rates.get(policy);
    if (!r) return [];
    return [...r.namespaces.entries()]
      .filter(([, w]) => w.open(now))
      .map(([ns]) => ns)
      .sort();
  }

  forget(policy: string): void {
    this.rates.delete(policy);
  }

  private rate(policy: string): PolicyRate {
    let r = this.rates.get(policy);
    if (!r) this.rates.set(policy, (r = { cluster: new Window(), namespaces: new Map() }));
    return r;
  }

  private namespace(r: PolicyRate, namespace: string): Window {
    let w = r.namespaces.get(namespace);
    if (w) return w;
    if (r.namespaces.size >= MAX_NAMESPACES) {
      // Forget namespaces with nothing in their minute and no open breaker.
      for (const [name, x] of r.namespaces)
        if (x.openedAt === undefined && x.ran.length === 0) r.namespaces.delete(name);
      if (r.namespaces.size >= MAX_NAMESPACES) {
        const oldest = r.namespaces.keys().next();
        if (!oldest.done) r.namespaces.delete(oldest.value);
      }
    }
    r.namespaces.set(namespace, (w = new Window()));
    return w;
  }
}
