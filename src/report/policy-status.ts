// A policy's status as docs/api.md section 1 describes it: readiness, what it sees now and what it has
// done since it was created. Counters live here between writes and are seeded from the status the
// cluster already holds, so they survive restarts and leader changes. Status is written through
// the status subresource only when it differs from what is there, and at most once per interval
// per policy: a storm of violations costs one write every couple of seconds, not one per pod.
import { ACTION_TYPES, GROUP, PLURAL, VERSION, type ActionType } from '../api/constants.ts';
import { systemClock, type Clock } from '../base/clock.ts';
import { asObject, jsonEqual } from '../base/json.ts';
import type { ObjectRef } from '../base/object-ref.ts';
import { mergePatch, type KubeApi } from '../kube/api.ts';
import { resourcePath } from '../kube/paths.ts';
import { rfc3339 } from '../kube/wire-time.ts';

export interface Readiness {
  ready: boolean;
  reason: string;
  message: string;
}

interface Book {
  name: string;
  generation: number;
  readiness: Readiness;
  totalViolations: number;
  actions: Record<ActionType, number>;
  lastViolationTime?: string;
  /** kind, namespace and name of each, as status.loopingWorkloads shows them. */
  looping: Required<Pick<ObjectRef, 'kind' | 'namespace' | 'name'>>[];
  /** The status as last written by us or observed in the cluster. */
  current: Record<string, unknown>;
  lastWriteAt: number;
}

export interface StatusInputs {
  violatingPods(policy: string): number;
  breakerOpen(policy: string): boolean;
  /** Namespaces whose own breaker is open (sorted); optional for callers without namespaces. */
  throttledNamespaces?(policy: string): string[];
}

const MAX_THROTTLED = 32;

const MAX_LOOPING = 32;
const statusPath = (name: string): string =>
  resourcePath({ group: GROUP, version: VERSION, resource: PLURAL, name, subresource: 'status' });

export class PolicyStatusBook {
  private readonly books = new Map<string, Book>();
  private readonly api: KubeApi;
  private readonly clock: Clock;
  private readonly minIntervalMs: number;

  constructor(opts: { api: KubeApi; clock?: Clock; minIntervalMs?: number }) {
    this.api = opts.api;
    this.clock = opts.clock ?? systemClock;
    this.minIntervalMs = opts.minIntervalMs ?? 2000;
  }

  /**
   * The policy as the cache has it now. Counters only ever grow: a status written by an earlier
   * leader (or an earlier run) raises ours, our own writes coming back change nothing.
   */
  observe(
    name: string,
    generation: number,
    status: Record<string, unknown>,
    readiness: Readiness,
  ): void {
    let b = this.books.get(name);
    if (!b) {
      b = {
        name,
        generation,
        readiness,
        totalViolations: 0,
        actions: { Label: 0, Isolate: 0, DeletePod: 0, CordonNode: 0 },
        looping: [],
        current: status,
        lastWriteAt: 0,
      };
      this.books.set(name, b);
    }
    b.generation = generation;
    b.readiness = readiness;
    b.current = status;
    b.totalViolations = Math.max(b.totalViolations, counter(status.totalViolations));
    const actions = asObject(status.actions) ?? {};
    for (const t of ACTION_TYPES) b.actions[t] = Math.max(b.actions[t], counter(actions[t]));
    const last =
      typeof status.lastViolationTime === 'string' ? status.lastViolationTime : undefined;
    if (last && (!b.lastViolationTime || last > b.lastViolationTime)) b.lastViolationTime = last;
    if (b.looping.length === 0 && Array.isArray(status.loopingWorkloads)) {
      for (const w of status.loopingWorkloads) {
        const o = asObject(w);
        if (
          o &&
          typeof o.kind === 'string' &&
          typeof o.namespace === 'string' &&
          typeof o.name === 'string'
        )
          b.looping.push({ kind: o.kind, namespace: o.namespace, name: o.name });
      }
    }
  }

  forget(name: string): void {
    this.books.delete(name);
  }

  violation(name: string, at: Date, count = 1): void {
    const b = this.books.get(name);
    if (!b) return;
    b.totalViolations += count;
    b.lastViolationTime = rfc3339(at);
  }

  action(name: string, type: ActionType): void {
    const b = this.books.get(name);
    if (b) b.actions[type]++;
  }

  /** Returns true the first time this workload is reported for the policy. */
  looping(name: string, workload: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): boolean {
    const w = { kind: workload.kind, namespace: workload.namespace ?? '', name: workload.name };
    const b = this.books.get(name);
    if (!b) return false;
    if (
      b.looping.some((x) => x.kind === w.kind && x.namespace === w.namespace && x.name === w.name)
    )
      return false;
    b.looping.push(w);
    if (b.looping.length > MAX_LOOPING) b.looping.shift();
    return true;
  }

  totals(
    name: string,
  ): { totalViolations: number; actions: Record<ActionType, number> } | undefined {
    const b = this.books.get(name);
    return b && { totalViolations: b.totalViolations, actions: { ...b.actions } };
  }

  /** The status the policy should have now. */
  desired(name: string, inputs: StatusInputs): Record<string, unknown> | undefined {
    const b = this.books.get(name);
    if (!b) return undefined;
    const ready = b.readiness.ready ? 'True' : 'False';
    const prior = (Array.isArray(b.current.conditions) ? b.current.conditions : [])
      .map(asObject)
      .find((c) => c?.type === 'Ready');
    const transition =
      prior && prior.status === ready && typeof prior.lastTransitionTime === 'string'
        ? prior.lastTransitionTime
        : rfc3339(new Date(this.clock.now()));
    const totalActions = ACTION_TYPES.reduce((n, t) => n + b.actions[t], 0);
    const status: Record<string, unknown> = {
      observedGeneration: b.generation,
      conditions: [
        {
          type: 'Ready',
          status: ready,
          observedGeneration: b.generation,
          lastTransitionTime: transition,
          reason: b.readiness.reason,
          message: b.readiness.message.slice(0, 32768),
        },
      ],
      // A policy with a bad edit may still be enforcing its last valid generation: show its pods.
      violatingPods: inputs.violatingPods(name),
      totalViolations: b.totalViolations,
      actions: { ...b.actions },
      totalActions,
      breaker: inputs.breakerOpen(name) ? 'Open' : 'Closed',
    };
    const throttled = inputs.throttledNamespaces?.(name).slice(0, MAX_THROTTLED) ?? [];
    if (throttled.length > 0) status.throttledNamespaces = throttled;
    if (b.lastViolationTime) status.lastViolationTime = b.lastViolationTime;
    if (b.looping.length > 0) status.loopingWorkloads = b.looping.map((w) => ({ ...w }));
    return status;
  }

  /** Writes every status that changed and whose interval has passed. Failures are returned, not thrown. */
  async flush(
    inputs: StatusInputs,
    opts: { force?: boolean } = {},
  ): Promise<{ written: string[]; failed: [string, Error][] }> {
    const written: string[] = [];
    const failed: [string, Error][] = [];
    const t = this.clock.now();
    for (const b of this.books.values()) {
      const want = this.desired(b.name, inputs);
      if (!want || jsonEqual(want, b.current)) continue;
      // force: the last flush before shutdown, which must not lose the final counts.
      if (!opts.force && t - b.lastWriteAt < this.minIntervalMs) continue;
      b.lastWriteAt = t;
      try {
        // A merge patch of the whole status: nobody else writes it, and it needs no resourceVersion.
        await mergePatch(this.api, statusPath(b.name), { status: want });
        b.current = want;
        written.push(b.name);
      } catch (err) {
        failed.push([b.name, err as Error]);
      }
    }
    return { written, failed };
  }
}

function counter(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}
