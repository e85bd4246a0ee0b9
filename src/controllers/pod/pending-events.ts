// What the pod reflector's handler leaves for the next reconcile of a key: when the change arrived
// (for detection latency, first arrival wins) and, for a pod deleted before it was reconciled, its
// last state (a short-lived attack pod must still be announced). Keyed by `namespace/name`, not
// UID: the key is all a reconcile gets, and the cache no longer has a deleted pod's UID. Bounded
// like every per-pod map.
import { BoundedMap } from '../../base/bounded-map.ts';
import type { CachedPod } from './cached-pod.ts';
import { MAX_PODS_REMEMBERED } from './pod-memory.ts';

export class PendingEvents {
  private readonly since = new BoundedMap<string, number>(MAX_PODS_REMEMBERED);
  private readonly departed = new BoundedMap<string, CachedPod>(MAX_PODS_REMEMBERED);

  arrived(key: string, at: number): void {
    if (!this.since.has(key)) this.since.set(key, at);
  }

  /** The pod was deleted; its last state is judged at the next reconcile. */
  deleted(key: string, last: CachedPod): void {
    this.departed.set(key, last);
  }

  /** When the change the next reconcile is about arrived; cleared by takeArrival. */
  arrival(key: string): number | undefined {
    return this.since.get(key);
  }

  takeArrival(key: string): number | undefined {
    const at = this.since.get(key);
    this.since.delete(key);
    return at;
  }

  takeDeparted(key: string): CachedPod | undefined {
    const last = this.departed.get(key);
    this.departed.delete(key);
    return last;
  }
}
