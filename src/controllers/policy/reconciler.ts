// reconcile(policyName): parse and compile the policy once per generation, mark it Ready or
// InvalidSpec (with an Event naming the field), and re-judge the pods when what is in effect
// changed. A deleted policy's gauges, guard state and status book are dropped.
import type { Log } from '../../base/log.ts';
import type { Store } from '../../kube/store.ts';
import { forgetPolicy, type Metrics } from '../../observability/metrics.ts';
import type { Guards } from '../../remediation/guards.ts';
import type { EventSink } from '../../report/events.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import type { PolicyObject } from './cached-policy.ts';
import type { PolicyRegistry } from './registry.ts';

export interface PolicyReconcilerDeps {
  policies: Store<PolicyObject>;
  registry: PolicyRegistry;
  status: PolicyStatusBook;
  guards: Guards;
  events: EventSink;
  metrics: Metrics;
  log: Log;
  /** Re-judge every pod: what is in effect changed. */
  requeuePods(): void;
}

export class PolicyReconciler {
  /** `name/generation` of invalid policies already announced with an Event. */
  private readonly announced = new Set<string>();
  private readonly deps: PolicyReconcilerDeps;

  constructor(deps: PolicyReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(name: string): Promise<void> {
    try {
      await this.reconcileOne(name);
    } finally {
      this.updateGauge();
    }
  }

  private async reconcileOne(name: string): Promise<void> {
    const obj = this.deps.policies.get(name);
    if (!obj) {
      if (this.deps.registry.remove(name)) {
        this.deps.log.info('policy deleted', { policy: name });
        this.deps.status.forget(name);
        this.deps.guards.forgetPolicy(name);
        forgetPolicy(this.deps.metrics, name);
        this.deps.requeuePods();
      }
      return;
    }
    const { entry, changed } = this.deps.registry.upsert(obj);
    this.deps.status.observe(name, obj.generation, obj.status, entry.readiness);
    if (!changed) return;
    if (entry.result.ok) {
      this.deps.log.info('policy loaded', {
        policy: name,
        generation: obj.generation,
        mode: entry.result.policy.spec.mode,
      });
    } else {
      this.deps.log.error('policy invalid: not applied', {
        policy: name,
        generation: obj.generation,
        reason: entry.readiness.message,
      });
      const key = `${name}/${obj.uid}/${obj.generation}`;
      if (!this.announced.has(key)) {
        this.announced.add(key);
        void this.deps.events.emit({
          target: {
            apiVersion: 'deployguard.dev/v1alpha1',
            kind: 'ContainerDeploymentPolicy',
            name,
            uid: obj.uid,
          },
          type: 'Warning',
          reason: 'PolicyInvalid',
          message: `policy not applied: ${entry.readiness.message}`,
        });
      }
    }
    this.deps.requeuePods();
  }

  private updateGauge(): void {
    const counts = new Map<string, number>();
    for (const e of this.deps.registry.all()) {
      const mode = e.result.ok ? e.result.policy.spec.mode : 'unknown';
      const k = `${mode}\u0000${e.readiness.ready}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    this.deps.metrics.policies.reset();
    for (const mode of ['Audit', 'Enforce', 'unknown'])
      for (const ready of ['true', 'false'])
        if (mode !== 'unknown' || ready === 'false')
          this.deps.metrics.policies.set({ mode, ready }, counts.get(`${mode}\u0000${ready}`) ?? 0);
  }
}
