// A watched pod -> what the pod cache keeps: the engine's sanitized view (no managedFields, no
// status beyond the phase) with only the annotations a rule or the record reads. Anyone who can
// create a pod can fill 256 KiB of annotations; kept, 1,000 such pods held 700 MB. Memory follows
// the number of pods, not what their creators write into them.
import {
  ANNOTATION_DETECTED_AT,
  ANNOTATION_RECORDED_UID,
  ANNOTATION_VIOLATIONS,
} from '../../api/constants.ts';
import { asObject, jsonEqual } from '../../base/json.ts';
import type { PodView, Volume } from '../../engine/pod.ts';
import { readByRules } from '../../engine/rules/pod-security/annotation-keys.ts';
import { sanitizePod } from '../../engine/sanitize.ts';
import { MAX_RECORD_LENGTH } from './annotation-codec.ts';
import type { SharedValues } from './shared-values.ts';

export interface CachedPod {
  view: PodView;
  /** Fields the sanitizer cut (input.oversized). */
  truncated: string[];
  phase?: string;
}

/**
 * Does an update change nothing reconcile reads? Most events of a pod are the kubelet's status
 * reports (conditions, IPs, container states) and the pod's resourceVersion: the cached pod is
 * then the same but for the version, and a reconcile would find everything as it left it. Only
 * the newer object is stored; the key is not queued again. Cheap on a cache that shares values:
 * unchanged spec fields, labels and owners are the very same objects.
 */
export function sameForReconcile(a: CachedPod, b: CachedPod): boolean {
  if (a.phase !== b.phase || !jsonEqual(a.truncated, b.truncated)) return false;
  const { resourceVersion: _a, ...ma } = a.view.metadata;
  const { resourceVersion: _b, ...mb } = b.view.metadata;
  return jsonEqual(ma, mb) && jsonEqual({ ...a.view, metadata: 0 }, { ...b.view, metadata: 0 });
}

/** Rule-read annotations kept per pod (one seccomp/AppArmor key per container is plenty). */
export const MAX_RULE_ANNOTATIONS = 64;
/** A seccomp or AppArmor value is a profile name; the kubelet reads nothing longer. */
export const MAX_RULE_ANNOTATION_LENGTH = 1024;

/** The operator's own keys and the longest value each can honestly hold. */
const OWN_ANNOTATIONS: ReadonlyMap<string, number> = new Map([
  [ANNOTATION_VIOLATIONS, MAX_RECORD_LENGTH],
  [ANNOTATION_DETECTED_AT, 64],
  [ANNOTATION_RECORDED_UID, 64],
]);

/**
 * `shared`, when given, keeps the parts replicas have in common (each spec field, the labels, the
 * owners) once for all pods that hold them: the view is then frozen in those parts.
 */
export function cachedPod(raw: unknown, shared?: SharedValues): CachedPod | undefined {
  const o = asObject(raw);
  if (!o) return undefined;
  // Items of a LIST carry no kind; the sanitizer needs it to know this is a Pod.
  const s = sanitizePod({ ...o, kind: 'Pod', apiVersion: 'v1' });
  if (!s || !s.pod.metadata.name) return undefined;
  const phase = asObject(o.status)?.phase;
  // A cut annotation value matters only if a rule reads it (re-judged below); a cut map may have
  // hidden one, so it stays.
  const truncated = s.truncated.filter(
    (p) => p === 'metadata.annotations' || !p.startsWith('metadata.annotations'),
  );
  const view = { ...s.pod, metadata: { ...s.pod.metadata } };
  view.metadata.annotations = keptAnnotations(s.pod.metadata.annotations, truncated);
  if (!shared) return { view, truncated, phase: typeof phase === 'string' ? phase : undefined };
  // The sanitizer made this spec for this pod alone: its values are swapped for shared ones in
  // place (a spec rebuilt key by key spilled its fields into a second array, 100 bytes a pod).
  const spec = s.pod.spec as unknown as Record<string, unknown>;
  for (const k of Object.keys(spec)) {
    const v = spec[k];
    spec[k] =
      k === 'volumes'
        ? sharedVolumes(s.pod.spec.volumes, shared)
        : typeof v === 'string'
          ? shared.text(v)
          : shared.share(v);
  }
  const m = view.metadata;
  m.namespace = shared.text(m.namespace);
  m.creationTimestamp = shared.text(m.creationTimestamp);
  // The sanitizer made the source for this pod too.
  (view.source as { namespace: string }).namespace = m.namespace;
  m.labels = shared.share(m.labels);
  m.ownerReferences = shared.share(m.ownerReferences);
  // Most pods keep no annotation and have nothing cut: one frozen empty value for all of them.
  if (Object.keys(m.annotations).length === 0) m.annotations = NONE;
  return {
    view,
    truncated: truncated.length === 0 ? NOTHING_CUT : truncated,
    phase: typeof phase === 'string' ? phase : undefined,
  };
}

/**
 * The ServiceAccount admission adds a token volume named kube-api-access-<5 random characters> to
 * every pod that mounts its token: no two pods' volume lists are alike, so the list is kept per
 * pod, each volume shared, and the token volume (unique by its name alone, shared it would cost
 * a pool entry per pod) per pod around a shared description of its sources. That volume is
 * projected: a hostPath volume of such a name is the creator's own, shared like any other.
 */
const TOKEN_VOLUME = /^kube-api-access-[a-z0-9]{5}$/;

function sharedVolumes(volumes: readonly Volume[], shared: SharedValues): Volume[] {
  return Object.freeze(
    volumes.map((v) =>
      TOKEN_VOLUME.test(v.name) && v.hostPath === undefined
        ? Object.freeze({ ...v, sources: shared.share(v.sources) })
        : shared.share(v),
    ),
  ) as Volume[];
}

const NONE: Record<string, string> = Object.freeze({});
const NOTHING_CUT: string[] = Object.freeze([]) as unknown as string[];

/**
 * The annotations a rule reads (bounded: beyond the bounds the pod is input.oversized, as for any
 * field) and the operator's own record. An own value longer than the operator ever writes is
 * forged: it is kept as an empty string, which reads as "nothing recorded", and reconcile then
 * writes the truth over it.
 */
function keptAnnotations(
  all: Readonly<Record<string, string>>,
  truncated: string[],
): Record<string, string> {
  const kept: Record<string, string> = {};
  let rules = 0;
  for (const key in all) {
    if (!Object.hasOwn(all, key)) continue;
    const value = all[key] as string;
    const ownMax = OWN_ANNOTATIONS.get(key);
    if (ownMax !== undefined) {
      kept[key] = value.length <= ownMax ? value : '';
      continue;
    }
    if (!readByRules(key)) continue;
    if (++rules > MAX_RULE_ANNOTATIONS) {
      if (!truncated.includes('metadata.annotations')) truncated.push('metadata.annotations');
      break;
    }
    if (value.length > MAX_RULE_ANNOTATION_LENGTH) truncated.push(`metadata.annotations[${key}]`);
    kept[key] = value.slice(0, MAX_RULE_ANNOTATION_LENGTH);
  }
  return kept;
}
