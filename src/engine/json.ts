// Untrusted JSON is read by narrowing, never by casting: the one narrowing every reader shares.
export type Json = Record<string, unknown>;

/** The value as a JSON object, or undefined for anything else (arrays and null included). */
export function asObject(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}
