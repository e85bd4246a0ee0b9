// The CLI's two output shapes. The JSON one is a contract (docs/api.md section 6): keys and order fixed.
import type { Violation } from '../engine/violation.ts';

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface OfflineResult {
  resource: ResourceRef;
  violation: Violation;
}

export interface Summary {
  resources: number;
  violating: number;
  violations: number;
}

export function renderJson(results: readonly OfflineResult[], summary: Summary): string {
  const out = {
    results: results.map(({ resource, violation: v }) => ({
      resource: {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        namespace: resource.namespace,
        name: resource.name,
      },
      container: v.container ?? null,
      policy: v.policy,
      rule: v.rule,
      severity: v.severity,
      techniques: v.techniques,
      message: v.message,
      path: v.path,
    })),
    summary: {
      resources: summary.resources,
      violating: summary.violating,
      violations: summary.violations,
    },
  };
  return `${JSON.stringify(out)}\n`;
}

const HEADERS = ['RESOURCE', 'CONTAINER', 'POLICY', 'RULE', 'SEVERITY', 'PATH', 'MESSAGE'];

export function renderTable(results: readonly OfflineResult[], summary: Summary): string {
  const rows = results.map(({ resource: r, violation: v }) => [
    `${r.kind}/${r.namespace}/${r.name}`,
    v.container ?? '-',
    v.policy,
    v.rule,
    v.severity,
    v.path,
    v.message,
  ]);
  const widths = HEADERS.map((h, i) =>
    Math.max(
      h.length,
      ...rows.map((row) => (i === HEADERS.length - 1 ? 0 : (row[i] ?? '').length)),
    ),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const body = rows.length > 0 ? [line(HEADERS), ...rows.map(line)].join('\n') + '\n\n' : '';
  const verdict =
    summary.violations === 0
      ? `No violations in ${summary.resources} resource${summary.resources === 1 ? '' : 's'}.`
      : `${summary.violations} violation${summary.violations === 1 ? '' : 's'} in ${summary.violating} of ${summary.resources} resource${summary.resources === 1 ? '' : 's'}.`;
  return `${body}${verdict}\n`;
}
