// What the CRD's CEL rules (x-kubernetes-validations in schema.ts) say, for input that never passed
// an API server: the CLI's files, and objects stored before a CRD upgrade. Keep each check here in
// step with its CEL twin: test/fixtures/invalid-policies.ts is one table of malformed policies that
// test/unit/engine/parse-policy.test.ts runs through this parser and test/integration/policy-validation.test.ts
// through a real API server.
import type { LabelSelector, PolicySpec, PolicyProblem } from './policy.ts';
import { LABEL_KEY_PATTERN, RULE_BLOCKS, RULE_ID_PATTERN } from './schema.ts';

const RULE_ID_KEY = new RegExp(RULE_ID_PATTERN);
const LABEL_KEY = new RegExp(LABEL_KEY_PATTERN);
const SERVICE_ACCOUNT = /^[^/]+\/[^/]+$/;

function selectorProblems(
  sel: LabelSelector | undefined,
  path: string,
  out: PolicyProblem[],
): void {
  sel?.matchExpressions?.forEach((e, i) => {
    const at = `${path}.matchExpressions[${i}].values`;
    const n = e.values?.length ?? 0;
    if ((e.operator === 'In' || e.operator === 'NotIn') && n === 0) {
      out.push({
        path: at,
        message: 'values must list at least one value when operator is In or NotIn',
      });
    }
    if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && n > 0) {
      out.push({
        path: at,
        message: 'values must be empty when operator is Exists or DoesNotExist',
      });
    }
  });
}

export function crossFieldProblems(spec: PolicySpec): PolicyProblem[] {
  const out: PolicyProblem[] = [];
  selectorProblems(spec.match.namespaceSelector, 'spec.match.namespaceSelector', out);
  selectorProblems(spec.match.podSelector, 'spec.match.podSelector', out);
  selectorProblems(spec.exclude.podSelector, 'spec.exclude.podSelector', out);
  spec.exclude.serviceAccounts.forEach((sa, i) => {
    if (!SERVICE_ACCOUNT.test(sa)) {
      out.push({
        path: `spec.exclude.serviceAccounts[${i}]`,
        message: `"${sa}" must be namespace/name, e.g. monitoring/node-exporter`,
      });
    }
  });
  if (!RULE_BLOCKS.some((b) => spec.rules[b] !== undefined)) {
    out.push({
      path: 'spec.rules',
      message: `rules must contain at least one rule block: ${RULE_BLOCKS.join(', ')}`,
    });
  }
  const nonEmpty = (list: readonly unknown[] | undefined, path: string, what: string): void => {
    if (list !== undefined && list.length === 0)
      out.push({ path, message: `${what} must have at least one entry` });
  };
  nonEmpty(spec.match.namespaces, 'spec.match.namespaces', 'namespaces');
  nonEmpty(
    spec.rules.commands?.deniedPatterns,
    'spec.rules.commands.deniedPatterns',
    'deniedPatterns',
  );
  nonEmpty(
    spec.rules.schedule?.allowedWindows,
    'spec.rules.schedule.allowedWindows',
    'allowedWindows',
  );
  spec.rules.schedule?.allowedWindows.forEach((w, i) =>
    nonEmpty(w.days, `spec.rules.schedule.allowedWindows[${i}].days`, 'days'),
  );
  spec.rules.hostPaths?.denied.forEach((p, i) => {
    if (!p.startsWith('/'))
      out.push({
        path: `spec.rules.hostPaths.denied[${i}]`,
        message: 'must be an absolute path, e.g. /opt/secrets',
      });
  });
  spec.rules.schedule?.allowedWindows.forEach((w, i) => {
    if (w.start === w.end)
      out.push({
        path: `spec.rules.schedule.allowedWindows[${i}].end`,
        message: 'end must differ from start',
      });
  });
  for (const k of Object.keys(spec.severity)) {
    if (!RULE_ID_KEY.test(k))
      out.push({
        path: `spec.severity[${k}]`,
        message: 'keys must be rule IDs such as pss.privileged or image.latestTag',
      });
  }
  spec.actions.forEach((a, i) => {
    const at = `spec.actions[${i}]`;
    const raw = a as unknown as Record<string, unknown>;
    if (a.type === 'Label') {
      const keys = Object.keys(a.labels ?? {});
      if (keys.length === 0)
        out.push({
          path: `${at}.labels`,
          message: 'a Label action needs at least one entry in labels',
        });
      for (const k of keys)
        if (!LABEL_KEY.test(k))
          out.push({
            path: `${at}.labels[${k}]`,
            message: 'keys must be valid label keys, e.g. quarantine or example.com/quarantine',
          });
    } else if (raw.labels !== undefined) {
      out.push({ path: `${at}.labels`, message: 'labels is only allowed on a Label action' });
    }
    if (a.type !== 'DeletePod') {
      if (raw.gracePeriodSeconds !== undefined)
        out.push({
          path: `${at}.gracePeriodSeconds`,
          message: 'gracePeriodSeconds is only allowed on a DeletePod action',
        });
      if (raw.evict !== undefined)
        out.push({ path: `${at}.evict`, message: 'evict is only allowed on a DeletePod action' });
    }
  });
  return out;
}

/** Defaults the CRD can't express: a field that exists on one action type only. */
export function withActionDefaults(spec: PolicySpec): PolicySpec {
  return {
    ...spec,
    actions: spec.actions.map((a) =>
      a.type === 'DeletePod' ? { ...a, evict: a.evict ?? false } : a,
    ),
  };
}
