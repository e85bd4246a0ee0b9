// Which input documents are judged, and the structural checks the API server would have made before
// a pod ever reached the engine in a cluster. Offline input has no API server in front of it.
import { POD_KINDS } from '../engine/sanitize.ts';
import { asObject as obj, type Json } from '../base/json.ts';

/** Where each pod-bearing kind keeps its pod spec, as a path for messages. */
const SPEC_PATH: Readonly<Record<string, string[]>> = {
  Pod: ['spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export function isPodBearing(kind: unknown): kind is string {
  return typeof kind === 'string' && POD_KINDS.includes(kind);
}

/** The first structural problem of a pod-bearing resource, as `field: message`, or undefined. */
export function resourceProblem(doc: Json): string | undefined {
  const kind = doc.kind as string;
  if (typeof doc.apiVersion !== 'string') return 'apiVersion: Required value';
  const meta = obj(doc.metadata);
  if (!meta) return 'metadata: Required value';
  if (!nonEmptyString(meta.name) && !nonEmptyString(meta.generateName))
    return 'metadata.name: Required value';
  const path = SPEC_PATH[kind] ?? ['spec', 'template', 'spec'];
  let node: unknown = doc;
  for (let i = 0; i < path.length; i++) {
    node = obj(node)?.[path[i] as string];
    if (!obj(node)) return `${path.slice(0, i + 1).join('.')}: Required value`;
  }
  const spec = node as Json;
  const at = path.join('.');
  if (!Array.isArray(spec.containers) || spec.containers.length === 0)
    return `${at}.containers: Required value`;
  // Field types are the sanitizer's to check (it names every wrongly-typed field); here only what
  // must be present.
  for (const group of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = spec[group];
    if (!Array.isArray(list)) continue;
    for (let i = 0; i < list.length; i++) {
      const c = obj(list[i]);
      const here = `${at}.${group}[${i}]`;
      if (c && !nonEmptyString(c.name)) return `${here}.name: Required value`;
      if (c && !nonEmptyString(c.image)) return `${here}.image: Required value`;
    }
  }
  return undefined;
}

function nonEmptyString(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

/** Labels of a Namespace document, for namespaceSelector. */
export function namespaceLabels(doc: Json): [string, Record<string, string>] | undefined {
  const meta = obj(doc.metadata);
  if (typeof meta?.name !== 'string') return undefined;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(meta.labels) ?? {}))
    if (typeof v === 'string') labels[k] = v;
  return [meta.name, labels];
}
