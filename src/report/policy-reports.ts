// PolicyReports (wgpolicyk8s.io/v1alpha2), one per namespace, for the dashboards and tools that
// read that format (Policy Reporter, Kyverno's UI). Only when the CRD is installed: probed through
// discovery once at start. Fail results only, bounded in size; written for the namespaces whose
// violations changed, at most once per interval, and deleted when a namespace has none left.
import { asObject, jsonEqual } from '../base/json.ts';
import type { Violation } from '../engine/violation.ts';
import type { KubeApi } from '../kube/api.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.ts';
import { resourcePath } from '../kube/paths.ts';

/** A pod as the reports show it. */
export interface ReportedPod {
  namespace: string;
  name: string;
  uid: string;
  violations: readonly Violation[];
}

/** What the reports are built from: which pods violate now, by namespace (the pod controller's view). */
export interface ViolationSource {
  inNamespace(namespace: string): ReportedPod[];
  /** Namespaces that have violating pods now. */
  namespaces(): string[];
  /** Namespaces whose violations changed since the last call. */
  takeDirtyNamespaces(): string[];
}

export const REPORT_NAME = 'deployguard';
const GROUP = 'wgpolicyk8s.io';
const VERSION = 'v1alpha2';
const GROUP_VERSION = `${GROUP}/${VERSION}`;
/** Results per report: far below etcd's object size limit even with long messages. */
export const MAX_RESULTS = 1000;
const MAX_MESSAGE = 512;
const MANAGED_BY = 'app.kubernetes.io/managed-by';

/** Is the PolicyReport CRD served? Discovery is readable by every authenticated client. */
export async function policyReportsServed(api: KubeApi): Promise<boolean> {
  try {
    const list = asObject(await api.request('GET', `/apis/${GROUP_VERSION}`));
    const resources = Array.isArray(list?.resources) ? list.resources : [];
    return resources.some((r) => asObject(r)?.name === 'policyreports');
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export function reportResults(
  violating: ViolationSource,
  namespace: string,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const pods = violating.inNamespace(namespace).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const p of pods) {
    for (const v of p.violations) {
      if (out.length >= MAX_RESULTS) return out;
      const properties: Record<string, string> = {
        techniques: v.techniques.join(','),
        path: v.path,
      };
      if (v.container) properties.container = v.container;
      out.push({
        source: 'deployguard',
        policy: v.policy,
        rule: v.rule,
        category: 'MITRE ATT&CK T1610',
        severity: v.severity,
        result: 'fail',
        scored: true,
        message:
          v.message.length > MAX_MESSAGE ? `${v.message.slice(0, MAX_MESSAGE - 1)}…` : v.message,
        properties,
        resources: [{ apiVersion: 'v1', kind: 'Pod', namespace, name: p.name, uid: p.uid }],
      });
    }
  }
  return out;
}

export class PolicyReporter {
  private readonly written = new Map<string, unknown[]>();
  private readonly api: KubeApi;
  private readonly violating: ViolationSource;
  private readonly pending = new Set<string>();

  constructor(opts: { api: KubeApi; violating: ViolationSource }) {
    this.api = opts.api;
    this.violating = opts.violating;
  }

  /** Brings every namespace whose violations changed up to date. Returns the failures, if any. */
  async sync(): Promise<Error[]> {
    for (const ns of this.violating.takeDirtyNamespaces()) this.pending.add(ns);
    const failures: Error[] = [];
    for (const ns of [...this.pending]) {
      try {
        await this.syncNamespace(ns);
        this.pending.delete(ns);
      } catch (err) {
        failures.push(err as Error);
      }
    }
    return failures;
  }

  /**
   * Start of a term: forget what was written, and bring up to date every namespace that has a
   * report of ours (found with one LIST, so a previous leader's stale reports are removed) or
   * violating pods now.
   */
  async reset(): Promise<void> {
    this.written.clear();
    for (const ns of this.violating.namespaces()) this.pending.add(ns);
    const list = asObject(
      await this.api.request(
        'GET',
        resourcePath({ group: GROUP, version: VERSION, resource: 'policyreports' }),
        {
          query: { labelSelector: `${MANAGED_BY}=deployguard` },
        },
      ),
    );
    for (const item of Array.isArray(list?.items) ? list.items : []) {
      const ns = asObject(asObject(item)?.metadata)?.namespace;
      if (typeof ns === 'string') this.pending.add(ns);
    }
  }

  private async syncNamespace(ns: string): Promise<void> {
    const results = reportResults(this.violating, ns);
    const path = resourcePath({
      group: GROUP,
      version: VERSION,
      resource: 'policyreports',
      namespace: ns,
    });
    if (results.length === 0) {
      if (this.written.get(ns)?.length === 0) return;
      try {
        await this.api.request('DELETE', `${path}/${encodeURIComponent(REPORT_NAME)}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      this.written.set(ns, []);
      return;
    }
    if (jsonEqual(this.written.get(ns), results)) return;
    const body = {
      apiVersion: GROUP_VERSION,
      kind: 'PolicyReport',
      metadata: {
        name: REPORT_NAME,
        namespace: ns,
        labels: { [MANAGED_BY]: 'deployguard' },
      },
      summary: { pass: 0, fail: results.length, warn: 0, error: 0, skip: 0 },
      results,
    };
    try {
      const current = asObject(
        await this.api.request('GET', `${path}/${encodeURIComponent(REPORT_NAME)}`),
      );
      const rv = asObject(current?.metadata)?.resourceVersion;
      await this.api.request('PUT', `${path}/${encodeURIComponent(REPORT_NAME)}`, {
        body: { ...body, metadata: { ...body.metadata, resourceVersion: rv } },
      });
    } catch (err) {
      if (isNotFound(err)) {
        try {
          await this.api.request('POST', path, { body });
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
          throw new Error(`policy report in ${ns} appeared meanwhile; retrying`, { cause: e });
        }
      } else if (isConflict(err)) {
        throw new Error(`policy report in ${ns} changed meanwhile; retrying`, { cause: err });
      } else throw err;
    }
    this.written.set(ns, results);
  }
}
