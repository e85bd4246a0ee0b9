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

/**
 * How the CPU cost of `large` compares with that of `small`, for tests that tell linear from
 * quadratic work (4x the input: about 4x linear, 16x quadratic). Each sample repeats the work
 * enough times to take at least ~10 ms of CPU, where timer granularity, GC and JIT no longer
 * swing a ratio by 2x; the least of five samples is kept for each side.
 */
export function cpuRatio(
  small: () => void,
  large: () => void,
): { smallMs: number; largeMs: number; ratio: number } {
  small();
  large();
  let reps = 1;
  while (reps < 10_000 && cpuMs(() => repeat(small, reps)) < 10) reps *= 2;
  const smallMs = fastestCpuMs(() => repeat(small, reps)) / reps;
  const largeMs = fastestCpuMs(() => repeat(large, reps)) / reps;
  return { smallMs, largeMs, ratio: largeMs / Math.max(smallMs, 1e-6) };
}

function repeat(fn: () => void, n: number): void {
  for (let i = 0; i < n; i++) fn();
}
