// The one logging seam. Everything below the composition root logs through `Log`; main.ts adapts
// winston to it (observability/logger.ts). Code that may run without a logger handed in falls
// back to `stderrLog`, so a swallowed error is never silent.

export interface Log {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
  /** A logger that adds `meta` to every line (a component name, a reconcile ID). */
  child(meta: object): Log;
}

function stderr(bound: object): Log {
  const write =
    (level: string) =>
    (msg: string, meta?: object): void => {
      console.error(JSON.stringify({ level, msg, ...bound, ...meta }));
    };
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: write('warn'),
    error: write('error'),
    child: (meta) => stderr({ ...bound, ...meta }),
  };
}

/** Warnings and errors as JSON lines on stderr; debug and info dropped. */
export const stderrLog: Log = stderr({});

/** Drops everything (tests that assert on other things). */
export const silentLog: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLog,
};

/** The message of anything thrown, for log metadata. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  try {
    return String(e);
  } catch {
    return 'unprintable error';
  }
}
