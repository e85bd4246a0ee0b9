// The policies in effect: each watched ContainerDeploymentPolicy parsed and compiled once per
// generation. A policy the operator can't use is kept with its problems (Ready=False) and left out
// of evaluation; every other policy keeps working.
import { describeProblems, parsePolicy, type PolicyResult } from '../api/parse.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { Readiness } from '../report/policy-status.ts';
import type { PolicyObject } from './cached-objects.ts';

export interface PolicyEntry {
  name: string;
  uid: string;
  generation: number;
  result: PolicyResult;
  readiness: Readiness;
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
    const entry: PolicyEntry = {
      name: obj.name,
      uid: obj.uid,
      generation: obj.generation,
      result,
      readiness: result.ok
        ? { ready: true, reason: 'Accepted', message: '' }
        : { ready: false, reason: 'InvalidSpec', message: describeProblems(result.problems) },
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
        .flatMap((e) => (e.result.ok ? [e.result.compiled] : []))
        .sort((a, b) => (a.policy.name < b.policy.name ? -1 : 1));
    }
    return this.readyList;
  }

  compiled(name: string): CompiledPolicy | undefined {
    const r = this.entries.get(name)?.result;
    return r?.ok ? r.compiled : undefined;
  }

  /** Does any policy in effect read namespace labels? Then a pod waits for its namespace's labels. */
  usesNamespaceSelector(): boolean {
    return this.ready().some((c) => c.policy.spec.match.namespaceSelector !== undefined);
  }
}
