// A Log (src/base/log.ts) that keeps every line, for tests that assert on what was logged.
import type { Log } from '../../src/base/log.ts';

export interface LogLine {
  level: string;
  msg: string;
  meta?: object;
}

export class RecordingLog implements Log {
  readonly lines: LogLine[] = [];
  private readonly bound: object;

  constructor(bound: object = {}, lines?: LogLine[]) {
    this.bound = bound;
    if (lines) this.lines = lines;
  }

  debug(msg: string, meta?: object): void {
    this.push('debug', msg, meta);
  }
  info(msg: string, meta?: object): void {
    this.push('info', msg, meta);
  }
  warn(msg: string, meta?: object): void {
    this.push('warn', msg, meta);
  }
  error(msg: string, meta?: object): void {
    this.push('error', msg, meta);
  }
  /** Shares the lines; adds `meta` to each. */
  child(meta: object): Log {
    return new RecordingLog({ ...this.bound, ...meta }, this.lines);
  }

  count(level: string): number {
    return this.lines.filter((l) => l.level === level).length;
  }

  private push(level: string, msg: string, meta?: object): void {
    const bound = Object.keys(this.bound).length > 0;
    this.lines.push({ level, msg, meta: bound ? { ...this.bound, ...meta } : meta });
  }
}
