// Policy status and the gauges that describe the policies now (violating pods, breaker), written
// together: the gauges every tick, the status subresource only where it changed (the book limits
// each policy to one write per interval). Run periodically by the leader, and once more, forced,
// on a graceful stop so the final counts are not lost.
import type { Clock } from '../../base/clock.ts';
import type { Log } from '../../base/log.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { Guards } from '../../remediation/guards.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import type { ViolatingPods } from '../pod/violating-pods.ts';
import type { PolicyRegistry } from './registry.ts';

export interface StatusFlusherDeps {
  status: PolicyStatusBook;
  violating: ViolatingPods;
  registry: PolicyRegistry;
  guards: Guards;
  metrics: Metrics;
  log: Log;
  clock: Clock;
  dryRun: boolean;
}

export function statusFlusher(deps: StatusFlusherDeps): (force?: boolean) => Promise<void> {
  return async (force = false) => {
    const now = deps.clock.now();
    const breaker = (p: string): boolean => deps.guards.breakerOpen(p, now);
    const { metrics } = deps;
    metrics.violatingPods.reset();
    for (const [policy, severity, n] of deps.violating.series())
      metrics.violatingPods.set({ policy, severity }, n);
    const throttled = (p: string): string[] => deps.guards.throttledNamespaces(p, now);
    metrics.namespaceBreakerOpen.reset();
    for (const e of deps.registry.all()) {
      metrics.breakerOpen.set({ policy: e.name }, breaker(e.name) ? 1 : 0);
      for (const namespace of throttled(e.name))
        metrics.namespaceBreakerOpen.set({ policy: e.name, namespace }, 1);
    }
    if (deps.dryRun) return;
    const { failed } = await deps.status.flush(
      {
        violatingPods: (p) => deps.violating.count(p),
        breakerOpen: breaker,
        throttledNamespaces: throttled,
      },
      { force },
    );
    for (const [policy, err] of failed)
      deps.log.warn('could not write policy status', { policy, error: err.message });
  };
}
