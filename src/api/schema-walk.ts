// A small structural-schema validator for the subset of OpenAPI v3 that CRDs use. It checks types,
// enums, bounds and required fields, rejects unknown fields and fills in defaults, reporting every
// problem with its field path, as the API server would. CEL rules are not evaluated here; their
// meaning is re-implemented in policy-rules.ts.

export interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: readonly string[];
  enum?: readonly unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  format?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
}

export interface SchemaProblem {
  path: string;
  message: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const got = typeOf(v);
  return got === want || (want === 'number' && got === 'integer');
}

const patternCache = new Map<string, RegExp>();
function patternOf(p: string): RegExp {
  let r = patternCache.get(p);
  if (!r) {
    // Schema patterns are ours, simple and anchored; bounded input length keeps them cheap.
    r = new RegExp(p, 'u');
    patternCache.set(p, r);
  }
  return r;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/**
 * Validates `value` against `schema` and returns a copy with defaults applied. Problems go into
 * `problems`; the returned value is only meaningful when none were added.
 */
export function walkSchema(
  schema: SchemaNode,
  value: unknown,
  path: string,
  problems: SchemaProblem[],
): unknown {
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.properties) return value;
  if (schema.type && !typeMatches(schema.type, value)) {
    problems.push({ path, message: `must be of type ${schema.type}, got ${typeOf(value)}` });
    return value;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    problems.push({
      path,
      message: `Unsupported value: ${show(value)}: supported values: ${schema.enum.map(show).join(', ')}`,
    });
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      problems.push({ path, message: `may not be longer than ${schema.maxLength} characters` });
    } else if (schema.pattern && !patternOf(schema.pattern).test(value)) {
      problems.push({ path, message: `${show(value)} does not match ${schema.pattern}` });
    }
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      problems.push({ path, message: `must be at least ${schema.minLength} characters long` });
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push({ path, message: `must be greater than or equal to ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push({ path, message: `must be less than or equal to ${schema.maximum}` });
  }
  if (Array.isArray(value)) return walkArray(schema, value, path, problems);
  if (typeOf(value) === 'object')
    return walkObject(schema, value as Record<string, unknown>, path, problems);
  return value;
}

function walkArray(
  schema: SchemaNode,
  value: unknown[],
  path: string,
  problems: SchemaProblem[],
): unknown[] {
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    problems.push({ path, message: `must have at most ${schema.maxItems} items` });
    return value;
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    problems.push({
      path,
      message: `must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`,
    });
  }
  const items = schema.items;
  return items ? value.map((v, i) => walkSchema(items, v, `${path}[${i}]`, problems)) : value;
}

function walkObject(
  schema: SchemaNode,
  value: Record<string, unknown>,
  path: string,
  problems: SchemaProblem[],
): Record<string, unknown> {
  const keys = Object.keys(value);
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    problems.push({ path, message: `must have at most ${schema.maxProperties} entries` });
    return value;
  }
  const out: Record<string, unknown> = {};
  const props = schema.properties;
  const extra = schema.additionalProperties;
  for (const key of keys) {
    // The API server drops nulls for non-nullable fields before defaulting; `foo:` in YAML means absent.
    if (value[key] === null) continue;
    const child = props?.[key] ?? (typeof extra === 'object' ? extra : undefined);
    const childPath = props ? join(path, key) : `${path}[${key}]`;
    if (!child) {
      if (extra === true || schema['x-kubernetes-preserve-unknown-fields']) out[key] = value[key];
      else problems.push({ path: childPath, message: 'unknown field' });
      continue;
    }
    out[key] = walkSchema(child, value[key], childPath, problems);
  }
  for (const req of schema.required ?? []) {
    // A null is absent here too (dropped above), as the API server prunes it before validating.
    if (!Object.hasOwn(value, req) || value[req] === null)
      problems.push({ path: join(path, req), message: 'Required value' });
  }
  if (props) {
    for (const [key, child] of Object.entries(props)) {
      if (!Object.hasOwn(out, key) && child.default !== undefined) {
        // Defaults nest: a defaulted `{}` gets its own children's defaults, as the API server does.
        out[key] = walkSchema(child, structuredClone(child.default), join(path, key), problems);
      }
    }
  }
  return out;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
