// What the webhook answers for a pod or workload, from the engine's verdict: the same evaluation
// the operator and the CLI make, filtered by each policy's spec.admission. Pure.
//
// An update is refused only for the violations it adds (those the old object did not have, by
// policy, rule, field and message). Otherwise a pod or workload admitted before its policy (or
// while the webhook was down) could no longer be labelled, scaled, have a finalizer removed or be
// recorded by the operator itself; and a changed image is still a new violation, since its message
// names the image.
import type { PolicyAdmission } from '../api/policy.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import { ruleInfo } from '../engine/catalog.ts';
import { atLeast, type Evaluation, type Violation } from '../engine/violation.ts';
import type { AdmissionResponse } from './review.ts';

/** The API server may cut a longer warning; kubectl prints each on a line of its own. */
export const MAX_WARNING_LENGTH = 256;
/** The API server keeps about 4 KiB of warnings in all: a dozen full lines, then a count. */
export const MAX_WARNINGS = 12;
/** Violations listed in a refusal before "and N more". */
export const MAX_LISTED = 10;

/** The policies admission answers for: those whose spec.admission.action is not Off. */
export function admissionPolicies(policies: readonly CompiledPolicy[]): CompiledPolicy[] {
  return policies.filter((c) => c.policy.spec.admission.action !== 'Off');
}

export interface WorkloadDecision {
  uid: string;
  /** What is being admitted, e.g. `Deployment web` or `Pod debug (ephemeral containers)`. */
  what: string;
  current: Evaluation;
  /** The old object's verdict, for an update: only what the update adds is acted on. */
  previous?: Evaluation;
  /** spec.admission of each policy, by name. */
  admission: (policy: string) => PolicyAdmission | undefined;
}

export interface Decision {
  response: AdmissionResponse;
  denied: Violation[];
  warned: Violation[];
}

export function decideWorkload(d: WorkloadDecision): Decision {
  const before = new Set((d.previous?.violations ?? []).map(identity));
  const denied: Violation[] = [];
  const warned: Violation[] = [];
  for (const v of d.current.violations) {
    const a = d.admission(v.policy);
    if (!a || a.action === 'Off' || before.has(identity(v))) continue;
    if (!atLeast(v, a.minSeverity)) continue;
    (a.action === 'Deny' ? denied : warned).push(v);
  }
  const warnings = warningLines(warned);
  if (denied.length === 0) {
    return {
      response: { uid: d.uid, allowed: true, ...(warnings.length > 0 ? { warnings } : {}) },
      denied,
      warned,
    };
  }
  const listed = denied.slice(0, MAX_LISTED).map((v) => `- ${describe(v)}`);
  if (denied.length > MAX_LISTED) listed.push(`- and ${denied.length - MAX_LISTED} more`);
  const message = `deployguard refused ${d.what}: ${denied.length} violation${denied.length === 1 ? '' : 's'}\n${listed.join('\n')}`;
  return {
    response: {
      uid: d.uid,
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message },
      ...(warnings.length > 0 ? { warnings } : {}),
    },
    denied,
    warned,
  };
}

/** `policy "p": rule r (high) at spec.x: message; fix: remedy` — one violation, one line. */
export function describe(v: Violation): string {
  const remedy = ruleInfo(v.rule)?.remedy;
  return `policy "${v.policy}": ${v.rule} (${v.severity}) at ${v.path}: ${v.message}${remedy ? `; fix: ${remedy}` : ''}`;
}

function warningLines(warned: readonly Violation[]): string[] {
  const lines = warned.slice(0, MAX_WARNINGS).map((v) => cut(`deployguard: ${describe(v)}`));
  if (warned.length > MAX_WARNINGS)
    lines[MAX_WARNINGS - 1] =
      `deployguard: and ${warned.length - MAX_WARNINGS + 1} more violations`;
  return lines;
}

function cut(s: string): string {
  return s.length <= MAX_WARNING_LENGTH ? s : `${s.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

function identity(v: Violation): string {
  return JSON.stringify([v.policy, v.rule, v.path, v.container ?? '', v.message]);
}
