// guards.maxActionsPerMinute: a sliding minute of actions per policy, and the breaker it opens.
// Only actions that really run take a slot; one that changed nothing gives it back (ticket
// rollback), so re-judging pods that are already remediated never opens the breaker.

const MINUTE = 60_000;
/** Retries after the breaker closes are spread over this long, not all at once. */
const BREAKER_JITTER_MS = 10_000;

interface PolicyRate {
  /** Times of actions let through in the last minute. */
  ran: number[];
  openedAt?: number;
}

export type RateVerdict =
  { ok: true; giveBack: () => void } | { ok: false; reason: string; retryAfterMs: number };

export class RateLimit {
  private readonly rates = new Map<string, PolicyRate>();
  private readonly random: () => number;

  constructor(random: () => number) {
    this.random = random;
  }

  /** Takes a slot for one action of the policy at `now`, or says the breaker is open. */
  take(policy: string, max: number, now: number): RateVerdict {
    let r = this.rates.get(policy);
    if (!r) this.rates.set(policy, (r = { ran: [] }));
    const open = this.breakerOpen(policy, now);
    if (open || this.recent(r, now) >= max) {
      // The cool-down starts when the breaker opens, not at each refusal: otherwise the retries
      // of the pods it refused would keep it open for as long as they exist.
      if (!open) r.openedAt = now;
      const opened = r.openedAt ?? now;
      return {
        ok: false,
        reason: `breaker open: more than guards.maxActionsPerMinute (${max}) actions in a minute`,
        retryAfterMs:
          Math.max(0, opened + MINUTE - now) + Math.floor(this.random() * BREAKER_JITTER_MS),
      };
    }
    r.ran.push(now);
    const ran = r.ran;
    return {
      ok: true,
      giveBack: () => {
        const i = ran.lastIndexOf(now);
        if (i >= 0) ran.splice(i, 1);
      },
    };
  }

  /**
   * Whether the policy's breaker is open now. It closes a minute after it opened; the actions it
   * held back then run at the limit's pace, and it opens again if they exceed it.
   */
  breakerOpen(policy: string, now: number): boolean {
    const r = this.rates.get(policy);
    if (!r || r.openedAt === undefined) return false;
    if (now - r.openedAt >= MINUTE) {
      r.openedAt = undefined;
      r.ran = [];
    }
    return r.openedAt !== undefined;
  }

  forget(policy: string): void {
    this.rates.delete(policy);
  }

  private recent(r: PolicyRate, now: number): number {
    while (r.ran.length > 0 && now - (r.ran[0] as number) >= MINUTE) r.ran.shift();
    return r.ran.length;
  }
}
