// Announcing what is newly found on a pod, exactly once per pod: the PolicyViolation Event, the
// violations counter, the policy's counters and the log line. Seeded from the pod's own trusted
// record, so a restart announces nothing twice (ADR 7).
import { SEVERITY_RANK, type Severity } from '../../api/constants.ts';
import type { Clock } from '../../base/clock.ts';
import type { Log } from '../../base/log.ts';
import type { OwnerReference, PodView } from '../../engine/pod.ts';
import type { Violation } from '../../engine/violation.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { podRef } from '../../remediation/pod-ref.ts';
import type { EventSink } from '../../report/events.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import { entryKey, summarize, type RecordedViolation } from './annotation-codec.ts';
import { describeClaims } from './owner-verifier.ts';
import type { PodMemory } from './pod-memory.ts';

export interface AnnouncerDeps {
  events: EventSink;
  status: PolicyStatusBook;
  metrics: Metrics;
  memory: PodMemory;
  clock: Clock;
}

export interface Announcement {
  /** The pod was deleted before it was reconciled (judged from its last state). */
  gone: boolean;
  /** Controller references that did not hold (the pod was judged as bare). */
  falseClaims: readonly OwnerReference[];
}

/** The key a pod's memory lives under: its UID, or its name for a pod that has none. */
export function memoryKey(pod: PodView): string {
  return pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
}

export class Announcer {
  private readonly deps: AnnouncerDeps;

  constructor(deps: AnnouncerDeps) {
    this.deps = deps;
  }

  /**
   * Counts and announces violations not announced before for this pod. True when something was
   * new.
   */
  announce(
    pod: PodView,
    violations: readonly Violation[],
    recordedBefore: readonly RecordedViolation[],
    log: Log,
    how: Announcement,
  ): boolean {
    const entries = summarize(violations);
    const fresh = this.fresh(memoryKey(pod), entries, recordedBefore);
    if (fresh.length === 0) return false;
    const at = new Date(this.deps.clock.now());
    const byPolicy = new Map<string, RecordedViolation[]>();
    for (const e of fresh) {
      this.deps.metrics.violations.inc({
        policy: e.policy,
        rule: e.rule,
        severity: e.severity,
        namespace: pod.metadata.namespace,
      });
      byPolicy.set(e.policy, [...(byPolicy.get(e.policy) ?? []), e]);
    }
    for (const [policy, list] of byPolicy) {
      this.deps.status.violation(policy, at, list.length);
      this.announcePolicy(pod, policy, list, violations, log, how);
    }
    return true;
  }

  /** The entries not announced before, remembering them; entries no longer found are dropped. */
  private fresh(
    key: string,
    entries: readonly RecordedViolation[],
    recordedBefore: readonly RecordedViolation[],
  ): RecordedViolation[] {
    const state = entries.length === 0 ? this.deps.memory.peek(key) : this.deps.memory.of(key);
    // A pod that never violated costs no memory.
    if (!state) return [];
    const seen = (state.announced ??= new Set(recordedBefore.map(entryKey)));
    const fresh = entries.filter((e) => !seen.has(entryKey(e)));
    // Rules that stopped firing may fire again later: that is a new detection.
    const current = new Set(entries.map(entryKey));
    for (const s of seen) if (!current.has(s)) seen.delete(s);
    for (const e of fresh) seen.add(entryKey(e));
    return fresh;
  }

  private announcePolicy(
    pod: PodView,
    policy: string,
    list: readonly RecordedViolation[],
    violations: readonly Violation[],
    log: Log,
    { gone, falseClaims }: Announcement,
  ): void {
    const first = violations.find((v) => v.policy === policy);
    const claims =
      falseClaims.length === 0
        ? ''
        : ` [false owner claim: ${describeClaims(falseClaims)} does not exist in this namespace with that UID; judged as a bare pod]`;
    log.warn('policy violation', {
      namespace: pod.metadata.namespace,
      policy,
      rule: list.map((e) => e.rule).join(','),
      // The worst of them: what on-call filters on.
      severity: worst(list),
      outcome: gone ? 'pod_gone' : 'recorded',
      ...(falseClaims.length > 0 && { falseOwnerClaims: describeClaims(falseClaims) }),
    });
    void this.deps.events.emit({
      target: podRef(pod),
      type: 'Warning',
      reason: 'PolicyViolation',
      policy,
      message: `violates policy ${policy}: ${list.map((e) => `${e.rule} (${e.severity})`).join(', ')}${first ? `; ${first.path}: ${first.message}` : ''}${gone ? ' [pod already deleted]' : ''}${claims}`,
    });
  }
}

function worst(list: readonly RecordedViolation[]): Severity {
  return list.reduce(
    (w, e) => (SEVERITY_RANK[e.severity] > SEVERITY_RANK[w] ? e.severity : w),
    list[0]?.severity ?? 'low',
  );
}
