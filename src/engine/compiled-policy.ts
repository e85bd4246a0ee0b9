// A policy turned into what evaluation needs: globs, regexes, time zones and versions resolved once,
// when the policy is loaded, so evaluating a pod does no parsing. Compiling is also where semantic
// problems the schema can't see (a bad regex, an unknown time zone or check ID) are found: each
// rule family compiles its own block (catalog.ts), and the policy-level fields are checked here.
import type { Policy, PolicyProblem } from '../api/policy.ts';
import { RULE_FAMILIES, ruleInfo } from './catalog.ts';
import { compileGlob, type Glob } from './glob.ts';
import { PSS_CHECK_IDS } from './rules/pod-security/index.ts';
import type { CompiledRule } from './rules/rule-family.ts';

export interface CompiledPolicy {
  policy: Policy;
  namespaces: Glob[];
  excludeNamespaces: Glob[];
  excludeImages: Glob[];
  excludeServiceAccounts: Glob[];
  /** guards.protectedNamespaces, for the operator's guards (compiled once, not per action). */
  protectedNamespaces: Glob[];
  /** The rule families the policy asks for, compiled, in the catalog's order. */
  rules: readonly CompiledRule[];
}

export type CompileResult =
  { ok: true; compiled: CompiledPolicy } | { ok: false; problems: PolicyProblem[] };

export function compilePolicy(policy: Policy): CompileResult {
  const { spec } = policy;
  const problems: PolicyProblem[] = [];
  const rules: CompiledRule[] = [];
  for (const family of RULE_FAMILIES) {
    const compiled = family.compile(spec, problems);
    if (compiled) rules.push(compiled);
  }
  for (const id of Object.keys(spec.severity)) {
    if (!ruleInfo(id) || (id.startsWith('pss.') && !PSS_CHECK_IDS.includes(id.slice(4)))) {
      problems.push({ path: `spec.severity[${id}]`, message: `unknown rule ID "${id}"` });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    compiled: {
      policy,
      namespaces: spec.match.namespaces.map(compileGlob),
      excludeNamespaces: spec.match.excludeNamespaces.map(compileGlob),
      excludeImages: spec.exclude.images.map(compileGlob),
      excludeServiceAccounts: spec.exclude.serviceAccounts.map(compileGlob),
      protectedNamespaces: spec.guards.protectedNamespaces.map(compileGlob),
      rules,
    },
  };
}
