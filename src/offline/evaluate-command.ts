// `deployguard evaluate`: the engine run offline over manifests, for CI pipelines that want to stop a
// manifest before it reaches a cluster. Exit 0: no violations; 1: violations; 2: invalid input.
import { isPolicyDocument, parsePolicy } from '../engine/parse-policy.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import { evaluate, sourcePath } from '../engine/evaluate.ts';
import { sanitizePod, type SanitizedPod } from '../engine/sanitize.ts';
import { expandPaths, InputError, loadDocuments, where, type SourceDocument } from './documents.ts';
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
  const all: SourceDocument[] = [];
  for (const f of await expandPaths(files)) all.push(...(await loadDocuments(f, io.stdin)));
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

interface Judged {
  doc: SourceDocument;
  sanitized: SanitizedPod;
}

/**
 * Sorts the resource documents: namespace labels, pods and workloads to judge, and the kinds that
 * are not judged. Structural problems an API server would have refused become one InputError.
 */
function classify(docs: readonly SourceDocument[]): {
  nsLabels: Map<string, Record<string, string>>;
  judged: Judged[];
  skipped: Map<string, number>;
} {
  const nsLabels = new Map<string, Record<string, string>>();
  const judged: Judged[] = [];
  const skipped = new Map<string, number>();
  const problems: string[] = [];
  for (const doc of docs) {
    const o = doc.value as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      problems.push(`${where(doc)}: not a Kubernetes object`);
    } else if (typeof o.kind !== 'string') {
      problems.push(`${where(doc, 'kind')}: Required value`);
    } else if (o.kind === 'Namespace') {
      const ns = namespaceLabels(o);
      if (ns) nsLabels.set(ns[0], ns[1]);
    } else if (!isPodBearing(o.kind)) {
      skipped.set(o.kind, (skipped.get(o.kind) ?? 0) + 1);
    } else {
      const missing = resourceProblem(o);
      const sanitized = sanitizePod(o);
      if (missing) problems.push(where(doc, missing));
      else if (sanitized && sanitized.invalid.length > 0) {
        for (const bad of sanitized.invalid)
          problems.push(where(doc, sourcePath(sanitized.pod, bad)));
      } else if (sanitized) judged.push({ doc, sanitized });
    }
  }
  if (problems.length > 0) throw new InputError(problems.join('\n'));
  return { nsLabels, judged, skipped };
}

export async function runEvaluate(opts: EvaluateOptions, io: CommandIO): Promise<number> {
  let results: OfflineResult[] = [];
  let violating = 0;
  let judgedCount: number;
  const warnings: string[] = [];
  try {
    if ([...opts.policyFiles, ...opts.resourceFiles].filter((f) => f === '-').length > 1) {
      throw new InputError(
        'stdin (-) can be read only once: give "-" to one -p or -f, not several',
      );
    }
    const policies = loadPolicies(await loadAll(opts.policyFiles, io));
    const { nsLabels, judged, skipped } = classify(await loadAll(opts.resourceFiles, io));
    judgedCount = judged.length;
    if (skipped.size > 0) {
      const kinds = [...skipped].map(([k, n]) => (n > 1 ? `${k} (${n})` : k)).join(', ');
      warnings.push(`not judged, not a Pod or workload: ${kinds}`);
    }
    for (const { doc, sanitized } of judged) {
      const { pod, truncated } = sanitized;
      const ev = evaluate(pod, policies, {
        namespaceLabels: nsLabels.get(pod.metadata.namespace) ?? {},
        now: opts.now,
        truncated,
      });
      const resource: ResourceRef = { ...pod.source };
      if (ev.violations.length > 0) violating++;
      results = results.concat(ev.violations.map((violation) => ({ resource, violation })));
      for (const e of ev.errors) warnings.push(`${where(doc)}: policy ${e.policy}: ${e.message}`);
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr(`error: invalid input:\n${err.message}\n`);
      return EXIT_INVALID;
    }
    throw err;
  }
  for (const w of warnings) io.stderr(`warning: ${w}\n`);
  const summary = { resources: judgedCount, violating, violations: results.length };
  io.stdout(opts.output === 'json' ? renderJson(results, summary) : renderTable(results, summary));
  return results.length > 0 ? EXIT_VIOLATIONS : EXIT_OK;
}
