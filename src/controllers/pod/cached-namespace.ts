// A watched namespace -> its labels, for policies with a namespaceSelector.
import { asObject, stringMap } from '../../base/json.ts';

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export function namespaceInfo(raw: unknown): NamespaceInfo | undefined {
  const meta = asObject(asObject(raw)?.metadata);
  if (!meta || typeof meta.name !== 'string') return undefined;
  return { name: meta.name, labels: stringMap(meta.labels) };
}
