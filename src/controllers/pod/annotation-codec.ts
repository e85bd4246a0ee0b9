// What the operator has recorded on a pod (the deployguard.dev/violations annotation) versus what
// the engine finds now. Pure: reconcile compares the two and writes only the difference, so a
// replayed watch event, a resync or a restart writes nothing when nothing changed.
import {
  ANNOTATION_DETECTED_AT,
  ANNOTATION_RECORDED_UID,
  ANNOTATION_VIOLATIONS,
  LABEL_VIOLATING,
  SEVERITIES,
  type Severity,
} from '../../api/constants.ts';
import type { Violation } from '../../engine/violation.ts';
import { isRfc3339, rfc3339 } from '../../kube/wire-time.ts';

/** One entry of the annotation: which policy's rule fired, at what severity. */
export interface RecordedViolation {
  policy: string;
  rule: string;
  severity: Severity;
}

/** What identifies an entry: one per (policy, rule), whatever its severity. */
export function entryKey(e: { policy: string; rule: string }): string {
  return `${e.policy}\u0000${e.rule}`;
}

/** Distinct (policy, rule, severity) entries, sorted by policy, then rule: the annotation's order. */
export function summarize(violations: readonly Violation[]): RecordedViolation[] {
  return summarizeRecorded(
    violations.map((v) => ({ policy: v.policy, rule: v.rule, severity: v.severity })),
  );
}

/**
 * Entries deduplicated per (policy, rule), the first one kept (violations come worst first), and
 * sorted by policy, then rule.
 */
export function summarizeRecorded(entries: readonly RecordedViolation[]): RecordedViolation[] {
  const seen = new Map<string, RecordedViolation>();
  for (const e of entries) if (!seen.has(entryKey(e))) seen.set(entryKey(e), e);
  return [...seen.values()].sort((a, b) => cmp(a.policy, b.policy) || cmp(a.rule, b.rule));
}

/**
 * The longest record the operator writes. Hundreds of (policy, rule) pairs fit; past it the worst
 * entries are kept, so the record stays small enough for the pod cache to keep it (cached-pod.ts)
 * and is always the same string for the same findings.
 */
export const MAX_RECORD_LENGTH = 16 * 1024;

/** Compact JSON, keys in a fixed order, so equal sets always serialise to equal strings. */
export function encodeRecorded(entries: readonly RecordedViolation[]): string {
  const json = (list: readonly RecordedViolation[]) =>
    JSON.stringify(list.map((e) => ({ policy: e.policy, rule: e.rule, severity: e.severity })));
  const all = json(entries);
  if (all.length <= MAX_RECORD_LENGTH) return all;
  // SEVERITIES lists the worst first; within a severity, by policy then rule (a stable sort of the
  // summary), so which entries fit never depends on the order they were found in.
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  const worstFirst = summarizeRecorded(entries).sort((a, b) => rank(a.severity) - rank(b.severity));
  const kept: RecordedViolation[] = [];
  let length = 2;
  for (const e of worstFirst) {
    const size = json([e]).length - 1;
    if (length + size > MAX_RECORD_LENGTH) break;
    kept.push(e);
    length += size;
  }
  return json(summarizeRecorded(kept));
}

/**
 * Reads the annotation back. Anyone who can patch the pod can write it, so a malformed value is
 * treated as "nothing recorded": reconcile then rewrites it with the truth.
 */
export function decodeRecorded(value: string | undefined): RecordedViolation[] {
  if (value === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: RecordedViolation[] = [];
  for (const e of parsed) {
    if (typeof e !== 'object' || e === null) return [];
    const { policy, rule, severity } = e as Record<string, unknown>;
    if (typeof policy !== 'string' || typeof rule !== 'string') return [];
    if (!SEVERITIES.includes(severity as Severity)) return [];
    out.push({ policy, rule, severity: severity as Severity });
  }
  return out;
}

export interface RecordedState {
  annotation?: string;
  detectedAt?: string;
  label?: string;
  /** The pod UID the record was written for. */
  uid?: string;
}

export function recordedState(
  annotations: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): RecordedState {
  return {
    annotation: annotations[ANNOTATION_VIOLATIONS],
    detectedAt: annotations[ANNOTATION_DETECTED_AT],
    label: labels[LABEL_VIOLATING],
    uid: annotations[ANNOTATION_RECORDED_UID],
  };
}

/**
 * The merge patch that brings a pod's record in line with `now`, or undefined when it already is.
 * detected-at marks the first detection and is kept while the pod keeps violating; everything is
 * removed (null) once it stops.
 */
export function recordPatch(
  recorded: RecordedState,
  now: readonly RecordedViolation[],
  at: Date,
  /** The pod's UID: the record is bound to it, and a record bound to another is not trusted. */
  uid?: string,
):
  | {
      metadata: {
        annotations: Record<string, string | null>;
        labels: Record<string, string | null>;
      };
    }
  | undefined {
  if (now.length === 0) {
    if (
      recorded.annotation === undefined &&
      recorded.detectedAt === undefined &&
      recorded.label === undefined &&
      recorded.uid === undefined
    )
      return undefined;
    const annotations: Record<string, string | null> = {
      [ANNOTATION_VIOLATIONS]: null,
      [ANNOTATION_DETECTED_AT]: null,
    };
    if (recorded.uid !== undefined) annotations[ANNOTATION_RECORDED_UID] = null;
    return { metadata: { annotations, labels: { [LABEL_VIOLATING]: null } } };
  }
  const trusted = uid === undefined || recorded.uid === uid;
  const value = encodeRecorded(now);
  // RFC 3339 only: anyone who can patch the pod can write this annotation.
  const validDetectedAt =
    trusted && recorded.detectedAt !== undefined && isRfc3339(recorded.detectedAt);
  if (recorded.annotation === value && validDetectedAt && recorded.label === 'true')
    return undefined;
  const annotations: Record<string, string | null> = {
    [ANNOTATION_VIOLATIONS]: value,
    [ANNOTATION_DETECTED_AT]: validDetectedAt ? (recorded.detectedAt as string) : rfc3339(at),
  };
  if (uid !== undefined) annotations[ANNOTATION_RECORDED_UID] = uid;
  return { metadata: { annotations, labels: { [LABEL_VIOLATING]: 'true' } } };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
