// A watched pod -> what the pod cache keeps: the engine's sanitized view (no managedFields, no
// status beyond the phase). At 50k pods this is the difference between megabytes and a gigabyte.
import { asObject } from '../../base/json.ts';
import type { PodView } from '../../engine/pod.ts';
import { sanitizePod } from '../../engine/sanitize.ts';

export interface CachedPod {
  view: PodView;
  /** Fields the sanitizer cut (input.oversized). */
  truncated: string[];
  phase?: string;
}

export function cachedPod(raw: unknown): CachedPod | undefined {
  const o = asObject(raw);
  if (!o) return undefined;
  // Items of a LIST carry no kind; the sanitizer needs it to know this is a Pod.
  const s = sanitizePod({ ...o, kind: 'Pod', apiVersion: 'v1' });
  if (!s || !s.pod.metadata.name) return undefined;
  const phase = asObject(o.status)?.phase;
  return {
    view: s.pod,
    truncated: s.truncated,
    phase: typeof phase === 'string' ? phase : undefined,
  };
}
