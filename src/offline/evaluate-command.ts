// `deployguard evaluate`: the engine run offline over manifests, for CI pipelines that want to stop a
// manifest before it reaches a cluster. Exit 0: no violations; 1: violations; 2: invalid input.
import { isPolicyDocument, parsePolicy } from '../api/parse.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import { evaluate } from '../engine/evaluate.ts';
import { sanitizePod } from '../engine/sanitize.ts';
import type { RuleError, Violation } from '../engine/violation.ts';
import { InputError, loadDocuments, where, type SourceDocument } from './documents.ts';
import { renderJson, renderTable, type OfflineResult, type ResourceRef } from './report.ts';
import { isPodBearing, namespaceLabels, resourceProblem } from './resources.ts';

export interface EvaluateOptions {
  policyFiles: string[];
  resourceFiles: string[];
  output: 'table' | 'json';
  now: Date;
}

export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => Promise<string>;
}

export const EXIT_OK = 0;
export const EXIT_VIOLATIONS = 1;
export const EXIT_INVALID = 2;

async function loadAll(files: string[], io: CommandIO): Promise<SourceDocument[]> {
  if (files.filter((f) => f === '-').length > 1)
    throw new InputError('stdin (-) can be given only once');
  const all: SourceDocument[] = [];
  for (const f of files) all.push(...(await loadDocuments(f, io.stdin)));
  return all;
}

function loadPolicies(docs: SourceDocument[]): CompiledPolicy[] {
  const errors: string[] = [];
  const policies: CompiledPolicy[] = [];
  const names = new Map<string, SourceDocument>();
  for (const doc of docs) {
    if (!isPolicyDocument(doc.value)) {
      const kind = (doc.value as { kind?: unknown } | null)?.kind;
      errors.push(
        `${where(doc, 'kind')}: expected a ContainerDeploymentPolicy, got ${JSON.stringify(kind ?? null)}`,
      );
      continue;
    }
    const r = parsePolicy(doc.value);
    if (!r.ok) {
      for (const p of r.problems) errors.push(`${where(doc, p.path)}: ${p.message}`);
      continue;
    }
    const first = names.get(r.policy.name);
    if (first)
      errors.push(
        `${where(doc, 'metadata.name')}: duplicate policy "${r.policy.name}" (first in ${where(first)})`,
      );
    names.set(r.policy.name, doc);
    policies.push(r.compiled);
  }
  if (errors.length > 0) throw new InputError(errors.join('\n'));
  if (policies.length === 0)
    throw new InputError('no ContainerDeploymentPolicy in the policy files');
  return policies;
}

export async function runEvaluate(opts: EvaluateOptions, io: CommandIO): Promise<number> {
  let results: OfflineResult[];
  let judged: number;
  let violating: number;
  const ruleErrors: string[] = [];
  try {
    const policies = loadPolicies(await loadAll(opts.policyFiles, io));
    const docs = await loadAll(opts.resourceFiles, io);
    const nsLabels = new Map<string, Record<string, string>>();
    const problems: string[] = [];
    for (const doc of docs) {
      const o = doc.value as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || Array.isArray(o))
        problems.push(`${where(doc)}: not a Kubernetes object`);
      else if (typeof o.kind !== 'string') problems.push(`${where(doc, 'kind')}: Required value`);
      else if (o.kind === 'Namespace') {
        const ns = namespaceLabels(o);
        if (ns) nsLabels.set(ns[0], ns[1]);
      } else if (isPodBearing(o.kind)) {
        const p = resourceProblem(o);
        if (p) problems.push(`${where(doc, p)}`);
      }
    }
    if (problems.length > 0) throw new InputError(problems.join('\n'));

    results = [];
    judged = 0;
    violating = 0;
    for (const doc of docs) {
      const sanitized = sanitizePod(doc.value);
      if (!sanitized) continue;
      judged++;
      const { pod, truncated } = sanitized;
      const ev = evaluate(pod, policies, {
        namespaceLabels: nsLabels.get(pod.metadata.namespace) ?? {},
        now: opts.now,
        truncated,
      });
      const resource: ResourceRef = { ...pod.source };
      if (ev.violations.length > 0) violating++;
      results.push(...ev.violations.map((v: Violation) => ({ resource, violation: v })));
      ruleErrors.push(
        ...ev.errors.map((e: RuleError) => `${where(doc)}: policy ${e.policy}: ${e.message}`),
      );
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr(`error: invalid input:\n${err.message}\n`);
      return EXIT_INVALID;
    }
    throw err;
  }
  for (const e of ruleErrors) io.stderr(`warning: ${e}\n`);
  const summary = { resources: judged, violating, violations: results.length };
  io.stdout(opts.output === 'json' ? renderJson(results, summary) : renderTable(results, summary));
  return results.length > 0 ? EXIT_VIOLATIONS : EXIT_OK;
}
