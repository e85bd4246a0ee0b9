// The logging surface src/kube needs; the composition root hands in its winston logger (which
// satisfies it). Without one, warnings and errors still reach stderr: a swallowed handler error
// must never be silent.

export interface KubeLog {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
}

const toStderr =
  (level: string) =>
  (msg: string, meta?: object): void => {
    console.error(JSON.stringify({ level, msg, ...meta }));
  };

export const stderrLog: KubeLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: toStderr('warn'),
  error: toStderr('error'),
};

/** The message of anything thrown, for log metadata. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
