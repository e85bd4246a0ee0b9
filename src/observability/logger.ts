// The operator's logger: winston with our own line format, adapted to the one Log seam
// (src/base/log.ts) and handed to whoever needs it (no global).
// Log fields often carry attacker-controlled text (pod names, commands, annotations), so every line
// is built to be unforgeable: JSON escapes, and text mode escapes control characters itself.
// Secrets never reach the output: fields named like credentials are replaced, and bearer tokens,
// JWTs and PEM blocks are scrubbed from any string.
import { createLogger as createWinston, format, transports } from 'winston';
import type { Logger } from 'winston';
import type { Log } from '../base/log.ts';

export type LogFormat = 'json' | 'text';

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
const MAX_STRING = 1024;
const MAX_ITEMS = 50;
const MAX_DEPTH = 6;
const REDACTED = '[redacted]';

// Key names whose values are credentials. Not plain "key": the workqueue key is a pod's name.
const SECRET_KEY =
  /token|passw(?:or)?d|secret|authorization|bearer|cookie|credential|cert|api[-_]?key|private[-_]?key|key[-_]?data/i;
// Credentials inside free text, e.g. an error message quoting a request header.
const SECRET_TEXT: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z ]+-----[\s\S]*?(?:-----END [A-Z ]+-----|$)/g, REDACTED],
  [/\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
];

export function createLogger(opts: {
  level: string;
  format: LogFormat;
  stream?: NodeJS.WritableStream;
  /** Clock for the ts field; tests pin it. */
  now?: () => Date;
}): Log {
  if (!Object.hasOwn(LEVELS, opts.level)) throw new TypeError(`unknown log level "${opts.level}"`);
  const now = opts.now ?? (() => new Date());
  const render = opts.format === 'json' ? renderJson : renderText;
  const line = format((info) => {
    const { level, message, ...meta } = info;
    const fields = sanitizeFields(meta);
    const msg = scrub(capString(typeof message === 'string' ? message : String(message)));
    info[Symbol.for('message')] = render(now().toISOString(), level, msg, fields);
    return info;
  });
  const logger = createWinston({
    levels: LEVELS,
    level: opts.level,
    format: line(),
    transports: [new transports.Stream({ stream: opts.stream ?? process.stderr })],
    exitOnError: false,
  });
  // A broken stderr must not crash the operator, and there is nowhere left to report it.
  logger.on('error', () => {});
  return adapt(logger);
}

/** winston behind the project's one Log seam: nothing else in src/ imports winston. */
function adapt(w: Logger): Log {
  return {
    debug: (msg, meta) => void w.debug(msg, meta),
    info: (msg, meta) => void w.info(msg, meta),
    warn: (msg, meta) => void w.warn(msg, meta),
    error: (msg, meta) => void w.error(msg, meta),
    child: (meta) => adapt(w.child(meta)),
  };
}

function renderJson(
  ts: string,
  level: string,
  msg: string,
  fields: Record<string, unknown>,
): string {
  // JSON.stringify leaves DEL, C1 controls (0x9b is a one-byte ANSI CSI) and the JS line
  // separators raw; escape them too so the line is inert even when cat'ed to a terminal.
  return JSON.stringify({ ts, level, msg, ...fields }).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    unicodeEscape,
  );
}

function renderText(
  ts: string,
  level: string,
  msg: string,
  fields: Record<string, unknown>,
): string {
  const parts = [ts, level.toUpperCase().padEnd(5), escapeText(msg)];
  for (const [k, v] of Object.entries(fields)) parts.push(`${textKey(k)}=${textValue(v)}`);
  return parts.join(' ');
}

function textKey(k: string): string {
  return /^[A-Za-z0-9_.\-/]+$/.test(k) ? k : quoteText(k);
}

function textValue(v: unknown): string {
  if (typeof v !== 'string') return escapeText(JSON.stringify(v) ?? 'undefined');
  return /^[^\s"=\\\p{C}\p{Z}]+$/u.test(v) ? v : quoteText(v);
}

/** Like Go's %q: backslashes and quotes first, so an escape in the output is never ambiguous. */
function quoteText(s: string): string {
  return `"${escapeText(s.replace(/["\\]/g, '\\$&'))}"`;
}

/** Control, format (bidi overrides, zero-width) and separator characters become visible escapes. */
function escapeText(s: string): string {
  return s.replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/gu, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : unicodeEscape(c),
  );
}

function unicodeEscape(c: string): string {
  const code = c.codePointAt(0) as number;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Meta fields made safe to print: keys ts/msg renamed so they cannot shadow ours. */
function sanitizeFields(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) {
    const key = k === 'ts' || k === 'msg' ? `${k}_` : k;
    out[key] = SECRET_KEY.test(k) ? REDACTED : sanitize(v, new Set(), 0);
  }
  return out;
}

/** A JSON-safe copy: no cycles, bounded depth/size, secrets replaced, errors as plain data. */
function sanitize(v: unknown, ancestors: Set<object>, depth: number): unknown {
  if (typeof v === 'string') return scrub(capString(v));
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (ancestors.has(v)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[truncated]';
  ancestors.add(v);
  try {
    if (v instanceof Error) {
      const code = (v as { code?: unknown }).code;
      return sanitize(
        { name: v.name, message: v.message, ...(code !== undefined && { code }), stack: v.stack },
        ancestors,
        depth,
      );
    }
    if (Array.isArray(v)) {
      const items = v.slice(0, MAX_ITEMS).map((x) => sanitize(x, ancestors, depth + 1) ?? null);
      if (v.length > MAX_ITEMS) items.push(`[${v.length - MAX_ITEMS} more]`);
      return items;
    }
    const out: Record<string, unknown> = {};
    const entries = Object.entries(v);
    for (const [k, x] of entries.slice(0, MAX_ITEMS))
      out[k] = SECRET_KEY.test(k) ? REDACTED : sanitize(x, ancestors, depth + 1);
    if (entries.length > MAX_ITEMS) out['[more]'] = entries.length - MAX_ITEMS;
    return out;
  } catch {
    // A getter that throws, a revoked Proxy: logging must go on.
    return '[unprintable]';
  } finally {
    ancestors.delete(v);
  }
}

function capString(s: string): string {
  return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}...[${s.length - MAX_STRING} more]` : s;
}

function scrub(s: string): string {
  let out = s;
  for (const [re, replacement] of SECRET_TEXT) out = out.replace(re, replacement);
  return out;
}
