// guards.maxCordonedNodesPercent counts nodes the cache shows unschedulable plus the cordons let
// through but not yet visible in the cache: concurrent reconciles must not each see room for one
// more and together cordon past the cap.
import type { NodeCounts } from './guards.ts';

/** A cordon let through stays counted this long, until the node cache shows it. */
const RESERVATION_MS = 2 * 60_000;

export class CordonReservations {
  /** Nodes a cordon was let through for, and when. */
  private readonly reserved = new Map<string, number>();

  /** Unschedulable nodes, in the cache or reserved. */
  count(nodes: NodeCounts, now: number): number {
    let n = nodes.unschedulable.size;
    for (const [name, at] of this.reserved) {
      if (nodes.unschedulable.has(name) || now - at >= RESERVATION_MS) this.reserved.delete(name);
      else n++;
    }
    return n;
  }

  reserve(node: string, now: number): () => void {
    this.reserved.set(node, now);
    return () => {
      if (this.reserved.get(node) === now) this.reserved.delete(node);
    };
  }
}
