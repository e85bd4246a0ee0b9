// CPU time of this thread, for the few tests that guard against blow-ups (exponential regexes,
// quadratic scans). Wall time on a busy machine measures everyone else's load; the main thread's
// own CPU time (process.threadCpuUsage) barely moves with it.

/** Milliseconds of this thread's CPU that fn took. */
export function cpuMs(fn: () => void): number {
  const t0 = process.threadCpuUsage();
  fn();
  const t1 = process.threadCpuUsage(t0);
  return (t1.user + t1.system) / 1000;
}

/** The least CPU of `runs` runs, in ms. */
export function fastestCpuMs(fn: () => void, runs = 5): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) best = Math.min(best, cpuMs(fn));
  return best;
}
