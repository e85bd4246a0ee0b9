// The recording half of a pod reconcile: announce what is newly found (Event, metric, policy
// counters) exactly once per pod, and bring the pod's annotation and label in line with the
// verdict, writing only the difference. The pod's own record is the durable memory (ADR 7); the
// maps here only bridge what the cache can't show yet.
import type { Logger } from 'winston';
import { POLICY_COLLECTION, SEVERITY_RANK } from '../../api/constants.ts';
import type { PodView } from '../../engine/pod.ts';
import type { Violation } from '../../engine/violation.ts';
import type { KubeApi } from '../../kube/client.ts';
import { isNotFound, isUidMismatch } from '../../kube/errors.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { podPath, podRef } from '../../remediation/action.ts';
import type { EventSink } from '../../report/events.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import type { PolicyRegistry } from '../policy/registry.ts';
import {
  encodeRecorded,
  entryKey,
  recordPatch,
  summarize,
  summarizeRecorded,
  type RecordedState,
  type RecordedViolation,
} from './annotation-codec.ts';

export interface ViolationRecorderDeps {
  api: KubeApi;
  policies: PolicyRegistry;
  events: EventSink;
  status: PolicyStatusBook;
  metrics: Metrics;
  ownsAllPolicies: boolean;
  now: () => number;
}

/** Bound for each per-pod map: a flood of pods must not grow them without limit. */
export const MAX_TRACKED = 100_000;

const FOREIGN_POLICY_TTL_MS = 60_000;

export class ViolationRecorder {
  /** pod uid -> violations already counted and announced (what the annotation says, or would in a dry run). */
  private readonly announced = new Map<string, Set<string>>();
  /**
   * pod uid -> the record we last wrote and the resourceVersion it produced. Watch events already
   * in flight still show the pod before our write; until the cache catches up, writing the same
   * record again would be a duplicate write.
   */
  private readonly ownWrites = new Map<string, { rv: bigint; value: string }>();
  private readonly foreignPolicies = new Map<string, { exists: boolean; at: number }>();
  private readonly d: ViolationRecorderDeps;

  constructor(deps: ViolationRecorderDeps) {
    this.d = deps;
  }

  forget(uid: string | undefined): void {
    if (!uid) return;
    this.announced.delete(uid);
    this.ownWrites.delete(uid);
  }

  /**
   * Counts and announces violations not announced before for this pod (seeded from its annotation,
   * so a restart announces nothing twice). True when something was new.
   */
  async announce(
    pod: PodView,
    violations: readonly Violation[],
    recordedBefore: readonly RecordedViolation[],
    log: Logger,
    gone: boolean,
  ): Promise<boolean> {
    const uid = pod.metadata.uid ?? `${pod.metadata.namespace}/${pod.metadata.name}`;
    const entries = summarize(violations);
    let seen = this.announced.get(uid);
    if (!seen) {
      seen = new Set(recordedBefore.map(entryKey));
      if (this.announced.size >= MAX_TRACKED) this.announced.clear();
      this.announced.set(uid, seen);
    }
    const fresh = entries.filter((e) => !seen.has(entryKey(e)));
    // Rules that stopped firing may fire again later: that is a new detection.
    const current = new Set(entries.map(entryKey));
    for (const s of seen) if (!current.has(s)) seen.delete(s);
    if (fresh.length === 0) return false;
    const at = new Date(this.d.now());
    const byPolicy = new Map<string, RecordedViolation[]>();
    for (const e of fresh) {
      seen.add(entryKey(e));
      this.d.metrics.violations.inc({
        policy: e.policy,
        rule: e.rule,
        severity: e.severity,
        namespace: pod.metadata.namespace,
      });
      byPolicy.set(e.policy, [...(byPolicy.get(e.policy) ?? []), e]);
    }
    for (const [policy, list] of byPolicy) {
      this.d.status.violation(policy, at, list.length);
      const first = violations.find((v) => v.policy === policy);
      log.warn('policy violation', {
        namespace: pod.metadata.namespace,
        policy,
        rule: list.map((e) => e.rule).join(','),
        // The worst of them: what on-call filters on.
        severity: list.reduce(
          (w, e) => (SEVERITY_RANK[e.severity] > SEVERITY_RANK[w] ? e.severity : w),
          list[0]?.severity ?? 'low',
        ),
        outcome: gone ? 'pod_gone' : 'recorded',
      });
      void this.d.events.emit({
        target: podRef(pod),
        type: 'Warning',
        reason: 'PolicyViolation',
        message: `violates policy ${policy}: ${list.map((e) => `${e.rule} (${e.severity})`).join(', ')}${first ? `; ${first.path}: ${first.message}` : ''}${gone ? ' [pod already deleted]' : ''}`,
      });
    }
    return true;
  }

  /**
   * What the annotation should say: our verdicts, plus the entries of policies another shard owns
   * when we are one (--policy-selector) and those policies still exist.
   */
  async toRecord(
    violations: readonly Violation[],
    before: readonly RecordedViolation[],
  ): Promise<RecordedViolation[]> {
    const entries = summarize(violations);
    if (this.d.ownsAllPolicies) return entries;
    const foreign: RecordedViolation[] = [];
    for (const e of before)
      if (!this.d.policies.get(e.policy) && (await this.policyExists(e.policy))) foreign.push(e);
    return foreign.length === 0 ? entries : summarizeRecorded([...entries, ...foreign]);
  }

  /** Does a policy outside our selector exist? Asked at most once a minute per name. */
  private async policyExists(name: string): Promise<boolean> {
    const t = this.d.now();
    const known = this.foreignPolicies.get(name);
    if (known && t - known.at < FOREIGN_POLICY_TTL_MS) return known.exists;
    let exists = true;
    try {
      await this.d.api.request('GET', `${POLICY_COLLECTION}/${encodeURIComponent(name)}`);
    } catch (err) {
      // Only a definite "not found" drops another shard's entries; any doubt keeps them.
      if (isNotFound(err)) exists = false;
    }
    if (this.foreignPolicies.size >= 10_000) this.foreignPolicies.clear();
    this.foreignPolicies.set(name, { exists, at: t });
    return exists;
  }

  /** Writes the difference between the pod's record and `entries`, if any. */
  async record(
    pod: PodView,
    recorded: RecordedState,
    entries: RecordedViolation[],
    log: Logger,
  ): Promise<void> {
    const patch = recordPatch(recorded, entries, new Date(this.d.now()), pod.metadata.uid);
    if (!patch) return;
    const uid = pod.metadata.uid ?? '';
    const value = encodeRecorded(entries);
    const mine = this.ownWrites.get(uid);
    const seen = resourceVersion(pod.metadata.resourceVersion);
    if (mine && mine.value === value && seen !== undefined && seen < mine.rv) return;
    try {
      const result = await this.d.api.request<{ metadata?: { resourceVersion?: string } }>(
        'PATCH',
        podPath(pod),
        {
          contentType: 'application/merge-patch+json',
          body: { metadata: { uid: pod.metadata.uid, ...patch.metadata } },
        },
      );
      const rv = resourceVersion(result?.metadata?.resourceVersion);
      if (rv !== undefined) {
        if (this.ownWrites.size >= MAX_TRACKED) this.ownWrites.clear();
        this.ownWrites.set(uid, { rv, value });
      }
    } catch (err) {
      // Gone or replaced (the uid no longer matches): the next event for the key reconciles it.
      // Any other refusal (e.g. annotations at their size limit) is an error worth retrying.
      if (!isNotFound(err) && !isUidMismatch(err)) throw err;
      log.debug('pod vanished before its violations were recorded');
    }
  }
}

/** resourceVersion as a number when it is one (etcd's are); undefined means "can't compare". */
export function resourceVersion(rv: string | undefined): bigint | undefined {
  return rv !== undefined && /^[0-9]{1,30}$/.test(rv) ? BigInt(rv) : undefined;
}
