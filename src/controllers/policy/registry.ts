// The policies in effect: each watched ContainerDeploymentPolicy parsed and compiled once per
// generation. A policy the operator can't use is kept with its problems (Ready=False); every other
// policy keeps working. A bad edit of a policy that was valid does not switch its protection off:
// the last valid generation stays in effect (and the condition says so) until the spec is fixed.
import { describeProblems, parsePolicy, type PolicyResult } from '../../engine/parse-policy.ts';
import type { CompiledPolicy } from '../../engine/compiled-policy.ts';
import type { Readiness } from '../../report/policy-status.ts';
import type { PolicyObject } from './cached-policy.ts';

export interface PolicyEntry {
  name: string;
  uid: string;
  generation: number;
  result: PolicyResult;
  readiness: Readiness;
  /** While this generation is invalid: the last valid one of the same policy, still enforced. */
  lastGood?: CompiledPolicy;
}

export class PolicyRegistry {
  private readonly entries = new Map<string, PolicyEntry>();
  private readyList: CompiledPolicy[] | undefined;

  /** Parses the policy unless this generation is already known. Returns whether the spec changed. */
  upsert(obj: PolicyObject): { entry: PolicyEntry; changed: boolean } {
    const known = this.entries.get(obj.name);
    if (known && known.uid === obj.uid && known.generation === obj.generation)
      return { entry: known, changed: false };
    const result = parsePolicy(obj.raw);
    const lastGood =
      !result.ok && known?.uid === obj.uid
        ? known.result.ok
          ? known.result.compiled
          : known.lastGood
        : undefined;
    const keeps = lastGood
      ? `; generation ${lastGood.policy.generation ?? '?'} stays in effect until this is fixed`
      : '';
    const entry: PolicyEntry = {
      name: obj.name,
      uid: obj.uid,
      generation: obj.generation,
      result,
      lastGood,
      readiness: result.ok
        ? { ready: true, reason: 'Accepted', message: '' }
        : {
            ready: false,
            reason: 'InvalidSpec',
            message: `${describeProblems(result.problems)}${keeps}`,
          },
    };
    this.entries.set(obj.name, entry);
    this.readyList = undefined;
    return { entry, changed: true };
  }

  remove(name: string): boolean {
    this.readyList = undefined;
    return this.entries.delete(name);
  }

  get(name: string): PolicyEntry | undefined {
    return this.entries.get(name);
  }

  all(): PolicyEntry[] {
    return [...this.entries.values()];
  }

  /** Compiled policies in effect, by name: the engine's input. */
  ready(): readonly CompiledPolicy[] {
    if (!this.readyList) {
      this.readyList = [...this.entries.values()]
        .flatMap((e) => (e.result.ok ? [e.result.compiled] : e.lastGood ? [e.lastGood] : []))
        .sort((a, b) => (a.policy.name < b.policy.name ? -1 : 1));
    }
    return this.readyList;
  }

  compiled(name: string): CompiledPolicy | undefined {
    const e = this.entries.get(name);
    return e?.result.ok ? e.result.compiled : e?.lastGood;
  }

  /** Does any policy in effect read namespace labels? Then a pod waits for its namespace's labels. */
  usesNamespaceSelector(): boolean {
    return this.ready().some((c) => c.policy.spec.match.namespaceSelector !== undefined);
  }
}
