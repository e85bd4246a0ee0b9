// A policy turned into what evaluation needs: globs, regexes, time zones and versions resolved once,
// when the policy is loaded, so evaluating a pod does no parsing. Compiling is also where semantic
// problems the schema can't see (a bad regex, an unknown time zone or check ID) are found.
import type { Policy, PolicyProblem } from '../api/policy.ts';
import { compileGlob, type Glob } from './glob.ts';
import { compileImagesRule, type CompiledImagesRule } from './rules/images.ts';
import type { CompiledPattern } from './rules/commands.ts';
import { hostPathList } from './rules/host-paths.ts';
import {
  PSS_CHECK_IDS,
  parsePssVersion,
  preparePodSecurity,
  type PreparedCheck,
} from './rules/pod-security/index.ts';
import { compileWindow, type CompiledWindow } from './rules/schedule-window.ts';
import { compileSafeRegex } from './safe-regex.ts';
import { ruleInfo } from './catalog.ts';

export interface CompiledPolicy {
  policy: Policy;
  namespaces: Glob[];
  excludeNamespaces: Glob[];
  excludeImages: Glob[];
  excludeServiceAccounts: Glob[];
  /** guards.protectedNamespaces, for the operator's guards (compiled once, not per action). */
  protectedNamespaces: Glob[];
  images?: CompiledImagesRule;
  patterns: CompiledPattern[];
  windows: CompiledWindow[];
  /** The Pod Security Standards checks `rules.podSecurity` runs, resolved once. */
  podSecurity?: readonly PreparedCheck[];
  /** The cleaned protected paths of `rules.hostPaths`. */
  hostPaths?: readonly string[];
}

export type CompileResult =
  { ok: true; compiled: CompiledPolicy } | { ok: false; problems: PolicyProblem[] };

export function compilePolicy(policy: Policy): CompileResult {
  const { spec } = policy;
  const problems: PolicyProblem[] = [];
  const rules = spec.rules;

  const pss = rules.podSecurity;
  if (pss) {
    const v = parsePssVersion(pss.version);
    if ('error' in v) problems.push({ path: 'spec.rules.podSecurity.version', message: v.error });
    pss.exemptChecks.forEach((id, i) => {
      if (!PSS_CHECK_IDS.includes(id)) {
        problems.push({
          path: `spec.rules.podSecurity.exemptChecks[${i}]`,
          message: `unknown Pod Security Standards check ID "${id}"; known: ${PSS_CHECK_IDS.join(', ')}`,
        });
      }
    });
  }

  const patterns: CompiledPattern[] = [];
  rules.commands?.deniedPatterns.forEach((source, i) => {
    const r = compileSafeRegex(source);
    if (r.ok) patterns.push({ source, regex: r.regex });
    else problems.push({ path: `spec.rules.commands.deniedPatterns[${i}]`, message: r.message });
  });

  const windows: CompiledWindow[] = [];
  rules.schedule?.allowedWindows.forEach((w, i) => {
    const r = compileWindow(w);
    if (r.ok) windows.push(r.window);
    else
      problems.push({
        path: `spec.rules.schedule.allowedWindows[${i}].${r.field}`,
        message: r.message,
      });
  });

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
      images: rules.images ? compileImagesRule(rules.images) : undefined,
      patterns,
      windows,
      podSecurity: pss ? preparePodSecurity(pss) : undefined,
      hostPaths: rules.hostPaths ? hostPathList(rules.hostPaths) : undefined,
    },
  };
}
