// Least privilege proven by use: every request the API server refused an operator with 403 is a
// failure of its own test, unless the operator's ServiceAccount IS allowed that request now.
// A freshly restarted API server answers for a few seconds before its RBAC authorizer has loaded
// the bindings, and refuses requests the bindings allow; the operator retries those (reconciles
// with backoff, watches after their backoff, status on the next flush) and they succeed. A 403
// that the authorizer still gives when asked afterwards (SubjectAccessReview) is a missing
// permission, whatever the timing. The refusal is read from the API server's own message
// ("User X cannot VERB resource R in API group G in the namespace N").
import { kubectl } from '../cluster.ts';
import type { LogLine } from './harness.ts';

export interface Refusal {
  user: string;
  verb: string;
  resource: string;
  subresource?: string;
  group: string;
  namespace?: string;
}

const REFUSED =
  /User \\?"([^"\\]+)\\?" cannot ([a-z]+) resource \\?"([^"\\]+)\\?"(?: in API group \\?"([^"\\]*)\\?")?(?: in the namespace \\?"([^"\\]+)\\?")?/;

/** The refusal a log line reports, or undefined when the line does not name one. */
export function refusalIn(line: LogLine): Refusal | undefined {
  const m = REFUSED.exec(JSON.stringify(line));
  if (!m) return undefined;
  const [resource, subresource] = (m[3] as string).split('/');
  return {
    user: m[1] as string,
    verb: m[2] as string,
    resource: resource as string,
    subresource,
    group: m[4] ?? '',
    namespace: m[5],
  };
}

/** Is the user allowed the request now? Asked of the real authorizer. */
async function allowedNow(r: Refusal): Promise<boolean> {
  const sa = /^system:serviceaccount:([^:]+):/.exec(r.user);
  const groups = ['system:authenticated'];
  if (sa) groups.push('system:serviceaccounts', `system:serviceaccounts:${sa[1]}`);
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: r.user,
      groups,
      resourceAttributes: {
        verb: r.verb,
        group: r.group,
        resource: r.resource,
        subresource: r.subresource,
        namespace: r.namespace,
      },
    },
  };
  const { stdout } = await kubectl(['create', '-f', '-', '-o', 'json'], {
    input: JSON.stringify(review),
  });
  return (JSON.parse(stdout) as { status?: { allowed?: boolean } }).status?.allowed === true;
}

/** Problems: refusals the authorizer still gives, and "forbidden" lines that name no request. */
export async function leastPrivilegeProblems(
  name: string,
  logs: readonly LogLine[],
): Promise<string[]> {
  const problems: string[] = [];
  const asked = new Map<string, boolean>();
  for (const l of logs) {
    if (!/forbidden/i.test(JSON.stringify(l))) continue;
    const r = refusalIn(l);
    if (!r) {
      problems.push(
        `${name} logged a refusal naming no request: ${JSON.stringify(l).slice(0, 400)}`,
      );
      continue;
    }
    const key = JSON.stringify(r);
    if (!asked.has(key)) asked.set(key, await allowedNow(r));
    if (!asked.get(key))
      problems.push(
        `${name} was refused by RBAC (${r.verb} ${r.group || 'core'}/${r.resource}${r.subresource ? `/${r.subresource}` : ''}${r.namespace ? ` in ${r.namespace}` : ''}), and still is: ${JSON.stringify(l).slice(0, 300)}`,
      );
  }
  return problems;
}
