// PolicyReports, when the wgpolicyk8s.io CRD is served: probed when this replica starts leading,
// then every namespace whose violations changed is brought up to date every few seconds.
import type { Clock } from '../base/clock.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { KubeApi } from '../kube/api.ts';
import {
  PolicyReporter,
  policyReportsServed,
  type ViolationSource,
} from '../report/policy-reports.ts';
import type { Component } from '../runtime/component.ts';
import { Periodic } from '../runtime/periodic.ts';

const REPORTS_EVERY_MS = 5000;

export function policyReportsTask(o: {
  api: KubeApi;
  violating: ViolationSource;
  dryRun: boolean;
  clock: Clock;
  log: Log;
  /** Told once the probe has answered (whether reports are on). */
  onProbed?: (served: boolean) => void;
}): Component {
  const reporter = new PolicyReporter({ api: o.api, violating: o.violating });
  const periodic = new Periodic({
    name: 'policy-reports',
    everyMs: REPORTS_EVERY_MS,
    task: async () => {
      for (const e of await reporter.sync())
        o.log.warn('could not write a PolicyReport', { error: e.message });
    },
    clock: o.clock,
    log: o.log,
  });
  return {
    name: 'policy-reports',
    needsLeader: true,
    async start(signal) {
      let served = false;
      try {
        served = await policyReportsServed(o.api);
      } catch (err) {
        o.log.warn('could not probe for the PolicyReport CRD; reports off', {
          error: errorMessage(err),
        });
      }
      o.onProbed?.(served);
      if (!served || o.dryRun || signal.aborted) return;
      await reporter.reset().catch((err: unknown) =>
        o.log.warn('could not list PolicyReports; stale ones stay until their namespace changes', {
          error: errorMessage(err),
        }),
      );
      await periodic.start(signal);
    },
    stop: (opts) => periodic.stop(opts),
  };
}
