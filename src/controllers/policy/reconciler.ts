// reconcile(policyName): parse and compile the policy once per generation, mark it Ready or
// InvalidSpec (with an Event naming the field), and re-judge the pods when what is in effect
// changed. A deleted policy's gauges, guard state and status book are dropped.
import type { Logger } from 'winston';
import type { Store } from '../../kube/store.ts';
import { forgetPolicy, type Metrics } from '../../observability/metrics.ts';
import type { Guards } from '../../remediation/guards.ts';
import type { EventSink } from '../../report/events.ts';
import type { PolicyStatusBook } from '../../report/policy-status.ts';
import type { PolicyObject } from '../cached-objects.ts';
import type { PolicyRegistry } from './registry.ts';

export interface PolicyReconcilerDeps {
  policies: Store<PolicyObject>;
  registry: PolicyRegistry;
  status: PolicyStatusBook;
  guards: Guards;
  events: EventSink;
  metrics: Metrics;
  log: Logger;
  /** Re-judge every pod: what is in effect changed. */
  requeuePods(): void;
}

export class PolicyReconciler {
  /** `name/generation` of invalid policies already announced with an Event. */
  private readonly announced = new Set<string>();
  private readonly d: PolicyReconcilerDeps;

  constructor(deps: PolicyReconcilerDeps) {
    this.d = deps;
  }

  async reconcile(name: string): Promise<void> {
    const started = performance.now();
    try {
      await this.reconcileOne(name);
    } finally {
      this.d.metrics.reconcileDuration.observe(
        { controller: 'policy' },
        (performance.now() - started) / 1000,
      );
      this.updateGauge();
    }
  }

  private async reconcileOne(name: string): Promise<void> {
    const obj = this.d.policies.get(name);
    if (!obj) {
      if (this.d.registry.remove(name)) {
        this.d.log.info('policy deleted', { policy: name });
        this.d.status.forget(name);
        this.d.guards.forgetPolicy(name);
        forgetPolicy(this.d.metrics, name);
        this.d.requeuePods();
      }
      return;
    }
    const { entry, changed } = this.d.registry.upsert(obj);
    this.d.status.observe(name, obj.generation, obj.status, entry.readiness);
    if (!changed) return;
    if (entry.result.ok) {
      this.d.log.info('policy loaded', {
        policy: name,
        generation: obj.generation,
        mode: entry.result.policy.spec.mode,
      });
    } else {
      this.d.log.error('policy invalid: not applied', {
        policy: name,
        generation: obj.generation,
        reason: entry.readiness.message,
      });
      const key = `${name}/${obj.uid}/${obj.generation}`;
      if (!this.announced.has(key)) {
        this.announced.add(key);
        void this.d.events.emit({
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
    this.d.requeuePods();
  }

  private updateGauge(): void {
    const counts = new Map<string, number>();
    for (const e of this.d.registry.all()) {
      const mode = e.result.ok ? e.result.policy.spec.mode : 'unknown';
      const k = `${mode}\u0000${e.readiness.ready}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    this.d.metrics.policies.reset();
    for (const mode of ['Audit', 'Enforce', 'unknown'])
      for (const ready of ['true', 'false'])
        if (mode !== 'unknown' || ready === 'false')
          this.d.metrics.policies.set({ mode, ready }, counts.get(`${mode}\u0000${ready}`) ?? 0);
  }
}
