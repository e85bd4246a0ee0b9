// The one per-pod memory of the pod controller, keyed by pod UID: what was announced, the record
// we last wrote, and what the remediator settled. The pod itself is the durable record (ADR 7);
// this only bridges what the cache can't show yet, so it is bounded (the oldest pods are
// forgotten first) and forgotten in one call when the pod goes.
import { BoundedMap } from '../../base/bounded-map.ts';
import type { ActionMemory, Settled } from '../../remediation/remediator.ts';

/** Pods remembered at most; far above what one operator watches, and a flood can't exceed it. */
export const MAX_PODS_REMEMBERED = 100_000;

export interface PodState {
  /** Entry keys of the violations already counted and announced. */
  announced?: Set<string>;
  /**
   * The record we last wrote and the resourceVersion it produced. Watch events already in flight
   * still show the pod before our write; until the cache catches up, writing the same record
   * again would be a duplicate write.
   */
  ownWrite?: { rv: bigint; value: string };
  settled?: Map<string, Settled>;
  refused?: Map<string, number>;
}

export class PodMemory {
  private readonly pods: BoundedMap<string, PodState>;

  constructor(max = MAX_PODS_REMEMBERED) {
    this.pods = new BoundedMap(max);
  }

  /** The pod's state, if any is remembered. */
  peek(uid: string): PodState | undefined {
    return this.pods.get(uid);
  }

  /** The pod's state, created empty when absent. */
  of(uid: string): PodState {
    return this.pods.getOrCreate(uid, () => ({}));
  }

  /** The remediator's part of the pod's state. */
  actions(uid: string): ActionMemory {
    const s = this.of(uid);
    s.settled ??= new Map();
    s.refused ??= new Map();
    return s as ActionMemory;
  }

  forget(uid: string | undefined): void {
    if (uid) this.pods.delete(uid);
  }

  get size(): number {
    return this.pods.size;
  }
}
