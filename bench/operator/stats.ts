// Quantiles for bench-operator: of samples, and of a Prometheus histogram between two scrapes.

/** The q-quantile of samples (nearest rank); NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
}

/** Cumulative bucket counts of one histogram, as /metrics gives them. */
export type Buckets = { le: number; count: number }[];

/**
 * The quantiles of what a histogram observed between two scrapes, interpolated linearly within a
 * bucket as Prometheus' histogram_quantile does. NaN when nothing was observed.
 */
export function histogramDelta(before: Buckets, after: Buckets): (q: number) => number {
  const was = new Map(before.map((b) => [b.le, b.count]));
  const delta = after
    .map((b) => ({ le: b.le, count: b.count - (was.get(b.le) ?? 0) }))
    .sort((a, b) => a.le - b.le);
  const total = delta[delta.length - 1]?.count ?? 0;
  return (q) => {
    if (total <= 0) return NaN;
    const rank = q * total;
    let lower = 0;
    let below = 0;
    for (const b of delta) {
      if (b.count >= rank) {
        // The top bucket has no upper bound: the quantile is at least its lower bound.
        if (!Number.isFinite(b.le)) return lower;
        const inBucket = b.count - below;
        return inBucket > 0 ? lower + ((b.le - lower) * (rank - below)) / inBucket : b.le;
      }
      lower = b.le;
      below = b.count;
    }
    return lower;
  };
}
