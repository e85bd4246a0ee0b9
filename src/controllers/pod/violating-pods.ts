// Which pods violate which policies right now: the source of the violating-pods gauge, the
// policies' status.violatingPods and the PolicyReports. Updated by reconcile, one pod at a time.
import { SEVERITY_RANK, type Severity } from '../../api/constants.ts';
import type { Violation } from '../../engine/violation.ts';

export interface ViolatingPod {
  namespace: string;
  name: string;
  uid: string;
  /** Bounded: a hostile pod can produce many findings, and reports need only a sample. */
  violations: Violation[];
}

const MAX_PER_POD = 64;

export class ViolatingPods {
  private readonly pods = new Map<
    string,
    ViolatingPod & { pairs: [string, Severity][]; signature: string }
  >();
  /** namespace -> keys of its violating pods (PolicyReports are per namespace). */
  private readonly byNamespace = new Map<string, Set<string>>();
  /** policy -> severity -> pod keys (the gauge's series). */
  private readonly byPolicy = new Map<string, Map<Severity, Set<string>>>();
  private readonly dirtyNamespaces = new Set<string>();

  /** Records the pod's current violations (empty: it no longer violates). Returns true if anything changed. */
  set(
    key: string,
    pod: Omit<ViolatingPod, 'violations'>,
    violations: readonly Violation[],
  ): boolean {
    const before = this.pods.get(key);
    if (violations.length === 0 && !before) return false;
    const kept = violations.slice(0, MAX_PER_POD);
    const sig = signature(pod.uid, kept);
    // A resync or an unrelated change of the pod: nothing for the gauges or the reports.
    if (before && before.signature === sig) return false;
    this.unindex(key, before);
    if (violations.length === 0) {
      this.pods.delete(key);
    } else {
      // One series per policy: the pod's highest severity under it (the gauge sums to pods).
      const pairs = new Map<string, [string, Severity]>();
      for (const v of violations) {
        const had = pairs.get(v.policy);
        if (!had || SEVERITY_RANK[v.severity] > SEVERITY_RANK[had[1]])
          pairs.set(v.policy, [v.policy, v.severity]);
      }
      const entry = { ...pod, violations: kept, pairs: [...pairs.values()], signature: sig };
      this.pods.set(key, entry);
      let inNs = this.byNamespace.get(pod.namespace);
      if (!inNs) this.byNamespace.set(pod.namespace, (inNs = new Set()));
      inNs.add(key);
      for (const [policy, severity] of entry.pairs) {
        let bySeverity = this.byPolicy.get(policy);
        if (!bySeverity) this.byPolicy.set(policy, (bySeverity = new Map()));
        let keys = bySeverity.get(severity);
        if (!keys) bySeverity.set(severity, (keys = new Set()));
        keys.add(key);
      }
    }
    this.dirtyNamespaces.add(pod.namespace);
    return true;
  }

  delete(key: string): void {
    const before = this.pods.get(key);
    if (!before) return;
    this.unindex(key, before);
    this.pods.delete(key);
    this.dirtyNamespaces.add(before.namespace);
  }

  get(key: string): ViolatingPod | undefined {
    return this.pods.get(key);
  }

  /** Pods violating the policy now, each counted once whatever its severities. */
  count(policy: string): number {
    const keys = new Set<string>();
    for (const set of this.byPolicy.get(policy)?.values() ?? []) for (const k of set) keys.add(k);
    return keys.size;
  }

  /** [policy, severity, pods] for every series of the gauge. */
  *series(): Generator<[string, Severity, number]> {
    for (const [policy, bySeverity] of this.byPolicy)
      for (const [severity, keys] of bySeverity) yield [policy, severity, keys.size];
  }

  policies(): string[] {
    return [...this.byPolicy.keys()];
  }

  inNamespace(namespace: string): ViolatingPod[] {
    const out: ViolatingPod[] = [];
    for (const k of this.byNamespace.get(namespace) ?? []) {
      const p = this.pods.get(k);
      if (p) out.push(p);
    }
    return out;
  }

  /** Namespaces that have violating pods now. */
  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  /** Namespaces whose violations changed since the last call. */
  takeDirtyNamespaces(): string[] {
    const out = [...this.dirtyNamespaces];
    this.dirtyNamespaces.clear();
    return out;
  }

  get size(): number {
    return this.pods.size;
  }

  private unindex(
    key: string,
    before: { pairs: [string, Severity][]; namespace: string } | undefined,
  ): void {
    if (!before) return;
    const inNs = this.byNamespace.get(before.namespace);
    inNs?.delete(key);
    if (inNs && inNs.size === 0) this.byNamespace.delete(before.namespace);
    for (const [policy, severity] of before.pairs) {
      const bySeverity = this.byPolicy.get(policy);
      const keys = bySeverity?.get(severity);
      keys?.delete(key);
      if (keys && keys.size === 0) bySeverity?.delete(severity);
      if (bySeverity && bySeverity.size === 0) this.byPolicy.delete(policy);
    }
  }
}

/** Everything a report or a gauge shows of a pod's violations, as one comparable string. */
function signature(uid: string, violations: readonly Violation[]): string {
  return JSON.stringify([
    uid,
    violations.map((v) => [v.policy, v.rule, v.severity, v.path, v.container ?? '', v.message]),
  ]);
}
