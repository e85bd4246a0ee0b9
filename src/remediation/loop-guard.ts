// The remediation-loop guard: a workload that keeps recreating the pods a policy deletes would be
// deleted forever (and its users paged forever). After `threshold` deletions of one owner's pods
// within the window, DeletePod stops for that owner.

const MAX_OWNERS_PER_POLICY = 1000;

export class LoopGuard {
  /** policy -> owner uid -> times we deleted one of its pods. */
  private readonly deletions = new Map<string, Map<string, number[]>>();
  readonly threshold: number;
  readonly windowMs: number;

  constructor(threshold: number, windowMs: number) {
    this.threshold = threshold;
    this.windowMs = windowMs;
  }

  /** A deletion of one of the owner's pods happened at `now`. */
  record(policy: string, ownerUid: string, now: number): void {
    let byOwner = this.deletions.get(policy);
    if (!byOwner) this.deletions.set(policy, (byOwner = new Map()));
    const times = (byOwner.get(ownerUid) ?? []).filter((t) => now - t < this.windowMs);
    times.push(now);
    byOwner.set(ownerUid, times);
    // Owners whose last deletion is out of the window are forgotten, so this can't only grow.
    if (byOwner.size > MAX_OWNERS_PER_POLICY)
      for (const [uid, list] of byOwner)
        if (now - (list[list.length - 1] ?? 0) >= this.windowMs) byOwner.delete(uid);
  }

  looping(policy: string, ownerUid: string, now: number): boolean {
    const times = this.deletions.get(policy)?.get(ownerUid) ?? [];
    return times.filter((t) => now - t < this.windowMs).length >= this.threshold;
  }

  forget(policy: string): void {
    this.deletions.delete(policy);
  }
}
