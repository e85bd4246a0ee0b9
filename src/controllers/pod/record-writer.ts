// Bringing the pod's record (annotation, detected-at, label, recorded-uid) in line with the
// verdict, writing only the difference (ADR 7). With --policy-selector the operator is one shard:
// entries of policies another shard owns are kept while those policies exist.
import { GROUP, PLURAL, VERSION } from '../../api/constants.ts';
import { BoundedMap } from '../../base/bounded-map.ts';
import type { Clock } from '../../base/clock.ts';
import type { Log } from '../../base/log.ts';
import type { PodView } from '../../engine/pod.ts';
import type { Violation } from '../../engine/violation.ts';
import { mergePatch, type KubeApi } from '../../kube/api.ts';
import { isInvalid, isNotFound, isUidMismatch } from '../../kube/errors.ts';
import { resourcePath } from '../../kube/paths.ts';
import { parseResourceVersion } from '../../kube/resource-version.ts';
import { podPathOf } from '../../remediation/pod-ref.ts';
import {
  encodeRecorded,
  recordPatch,
  summarize,
  summarizeRecorded,
  type RecordedState,
  type RecordedViolation,
} from './annotation-codec.ts';
import { memoryKey } from './announcer.ts';
import type { PodMemory } from './pod-memory.ts';

export interface RecordWriterDeps {
  api: KubeApi;
  /** Is this policy one of ours (loaded by this operator)? */
  knowsPolicy(name: string): boolean;
  memory: PodMemory;
  /** False with --policy-selector: entries of unknown policies may belong to another shard. */
  ownsAllPolicies: boolean;
  clock: Clock;
}

const FOREIGN_POLICY_TTL_MS = 60_000;
const MAX_FOREIGN_POLICIES = 10_000;

export class RecordWriter {
  private readonly foreignPolicies = new BoundedMap<string, { exists: boolean; at: number }>(
    MAX_FOREIGN_POLICIES,
  );
  private readonly deps: RecordWriterDeps;

  constructor(deps: RecordWriterDeps) {
    this.deps = deps;
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
    if (this.deps.ownsAllPolicies) return entries;
    const foreign: RecordedViolation[] = [];
    for (const e of before)
      if (!this.deps.knowsPolicy(e.policy) && (await this.policyExists(e.policy))) foreign.push(e);
    return foreign.length === 0 ? entries : summarizeRecorded([...entries, ...foreign]);
  }

  /** Does a policy outside our selector exist? Asked at most once a minute per name. */
  private async policyExists(name: string): Promise<boolean> {
    const t = this.deps.clock.now();
    const known = this.foreignPolicies.get(name);
    if (known && t - known.at < FOREIGN_POLICY_TTL_MS) return known.exists;
    let exists = true;
    try {
      await this.deps.api.request(
        'GET',
        resourcePath({ group: GROUP, version: VERSION, resource: PLURAL, name }),
      );
    } catch (err) {
      // Only a definite "not found" drops another shard's entries; any doubt keeps them.
      if (isNotFound(err)) exists = false;
    }
    this.foreignPolicies.set(name, { exists, at: t });
    return exists;
  }

  /**
   * Writes the difference between the pod's record and `entries`, if any. Returns the server's
   * refusal of the patch itself (422: the pod's annotations at their size limit, say), which
   * retrying can't fix: the caller still remediates, then stops retrying.
   */
  async record(
    pod: PodView,
    recorded: RecordedState,
    entries: RecordedViolation[],
    log: Log,
  ): Promise<Error | undefined> {
    const at = new Date(this.deps.clock.now());
    const patch = recordPatch(recorded, entries, at, pod.metadata.uid);
    if (!patch) return undefined;
    const key = memoryKey(pod);
    const value = encodeRecorded(entries);
    const mine = this.deps.memory.peek(key)?.ownWrite;
    const seen = parseResourceVersion(pod.metadata.resourceVersion);
    if (mine && mine.value === value && seen !== undefined && seen < mine.rv) return undefined;
    try {
      const result = await mergePatch<{ metadata?: { resourceVersion?: string } }>(
        this.deps.api,
        podPathOf(pod),
        { metadata: { uid: pod.metadata.uid, ...patch.metadata } },
      );
      const rv = parseResourceVersion(result?.metadata?.resourceVersion);
      if (rv !== undefined) this.deps.memory.of(key).ownWrite = { rv, value };
      return undefined;
    } catch (err) {
      // Gone or replaced (the uid no longer matches): the next event for the key reconciles it.
      if (isNotFound(err) || isUidMismatch(err)) {
        log.debug('pod vanished before its violations were recorded');
        return undefined;
      }
      if (isInvalid(err)) return err as Error;
      throw err;
    }
  }
}
