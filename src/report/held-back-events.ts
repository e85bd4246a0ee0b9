// What the Event rate limit holds back, summarised instead of lost: an attacker who creates a
// thousand violating pods a second must not turn Events into a write storm, but on-call must still
// see that it happened and where. Held-back Events are counted per namespace, policy and reason,
// with a few pod names as a sample, and written as one summary Event each on the namespace.
import type { EventSpec } from './events.ts';

/** Names kept per summary: enough to start looking, bounded whatever the flood. */
const SAMPLE = 5;
/** Summaries kept between flushes; beyond it, counts fold into one cluster-wide summary. */
const MAX_GROUPS = 200;

export interface HeldBack {
  namespace: string;
  policy: string;
  reason: string;
  count: number;
  sample: string[];
}

export class HeldBackEvents {
  private groups = new Map<string, HeldBack>();
  /** Held back after MAX_GROUPS was reached: only counted. */
  private overflow = 0;

  add(e: EventSpec): void {
    const namespace = e.target.namespace || 'default';
    const policy = e.policy ?? '';
    const key = `${namespace}\u0000${policy}\u0000${e.reason}`;
    let g = this.groups.get(key);
    if (!g) {
      if (this.groups.size >= MAX_GROUPS) {
        this.overflow++;
        return;
      }
      this.groups.set(key, (g = { namespace, policy, reason: e.reason, count: 0, sample: [] }));
    }
    g.count++;
    if (g.sample.length < SAMPLE && !g.sample.includes(e.target.name)) g.sample.push(e.target.name);
  }

  /** Everything held back since the last call, and the count that did not fit a group. */
  take(): { groups: HeldBack[]; overflow: number } {
    const out = { groups: [...this.groups.values()], overflow: this.overflow };
    this.groups = new Map();
    this.overflow = 0;
    return out;
  }

  get pending(): number {
    return this.groups.size + (this.overflow > 0 ? 1 : 0);
  }
}
