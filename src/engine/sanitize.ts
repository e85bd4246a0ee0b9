// From untrusted JSON (a watch event, a file handed to the CLI) to a PodView whose every field has the
// type it claims. Wrongly-typed fields are dropped, not coerced, and sizes are bounded: attackers
// control pod specs, and nothing they write may crash or stall the engine.
import type {
  AppArmorProfile,
  Capabilities,
  Container,
  ContainerPort,
  Handler,
  NodeAffinity,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  ObjectMeta,
  OwnerReference,
  PodSecurityContext,
  PodSpec,
  PodView,
  SELinuxOptions,
  SeccompProfile,
  SecurityContext,
  Sysctl,
  Toleration,
  Volume,
  WindowsOptions,
} from './pod.ts';

/** Longest string the rules will look at; longer ones are cut and reported. */
export const MAX_STRING_LENGTH = 64 * 1024;
/** Most items of any list the rules will look at. */
export const MAX_LIST_ITEMS = 1024;

type Json = Record<string, unknown>;

/** Collects the paths of fields cut to the bounds above, so evaluation can say it saw only part. */
class Bounds {
  readonly truncated: string[] = [];
  str(v: unknown, path: string): string | undefined {
    if (typeof v !== 'string') return undefined;
    if (v.length <= MAX_STRING_LENGTH) return v;
    this.truncated.push(path);
    return v.slice(0, MAX_STRING_LENGTH);
  }
  list(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) return [];
    if (v.length <= MAX_LIST_ITEMS) return v;
    this.truncated.push(path);
    return v.slice(0, MAX_LIST_ITEMS);
  }
}

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}
function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

function strings(b: Bounds, v: unknown, path: string): string[] {
  const out: string[] = [];
  b.list(v, path).forEach((s, i) => {
    const t = b.str(s, `${path}[${i}]`);
    if (t !== undefined) out.push(t);
  });
  return out;
}

function stringMap(b: Bounds, v: unknown, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const o = obj(v);
  if (!o) return out;
  let n = 0;
  for (const [k, val] of Object.entries(o)) {
    if (++n > MAX_LIST_ITEMS) {
      b.truncated.push(path);
      break;
    }
    const t = b.str(val, `${path}[${k}]`);
    if (t !== undefined && k.length <= MAX_STRING_LENGTH) out[k] = t;
  }
  return out;
}

function defined<T extends object>(o: T): T | undefined {
  return Object.values(o).some((v) => v !== undefined) ? o : undefined;
}

function windowsOptions(v: unknown): WindowsOptions | undefined {
  const o = obj(v);
  return o ? { hostProcess: bool(o.hostProcess) } : undefined;
}

function seccomp(v: unknown): SeccompProfile | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return { type: str(o.type), localhostProfile: str(o.localhostProfile) };
}
function appArmor(v: unknown): AppArmorProfile | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return { type: str(o.type), localhostProfile: str(o.localhostProfile) };
}
function seLinux(v: unknown): SELinuxOptions | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return { user: str(o.user), role: str(o.role), type: str(o.type), level: str(o.level) };
}
/** Short fields (enums, names): anything longer than a Kubernetes name is not a value we compare. */
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length <= 4096 ? v : undefined;
}

function capabilities(b: Bounds, v: unknown, path: string): Capabilities | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return {
    add: o.add === undefined ? undefined : strings(b, o.add, `${path}.add`),
    drop: o.drop === undefined ? undefined : strings(b, o.drop, `${path}.drop`),
  };
}

function securityContext(b: Bounds, v: unknown, path: string): SecurityContext | undefined {
  const o = obj(v);
  if (!o) return undefined;
  return {
    privileged: bool(o.privileged),
    allowPrivilegeEscalation: bool(o.allowPrivilegeEscalation),
    runAsNonRoot: bool(o.runAsNonRoot),
    runAsUser: int(o.runAsUser),
    runAsGroup: int(o.runAsGroup),
    readOnlyRootFilesystem: bool(o.readOnlyRootFilesystem),
    procMount: str(o.procMount),
    capabilities: capabilities(b, o.capabilities, `${path}.capabilities`),
    seccompProfile: seccomp(o.seccompProfile),
    appArmorProfile: appArmor(o.appArmorProfile),
    seLinuxOptions: seLinux(o.seLinuxOptions),
    windowsOptions: windowsOptions(o.windowsOptions),
  };
}

function podSecurityContext(b: Bounds, v: unknown, path: string): PodSecurityContext | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const sysctls: Sysctl[] = [];
  b.list(o.sysctls, `${path}.sysctls`).forEach((s) => {
    const so = obj(s);
    const name = str(so?.name);
    if (name !== undefined) sysctls.push({ name, value: str(so?.value) ?? '' });
  });
  return {
    runAsNonRoot: bool(o.runAsNonRoot),
    runAsUser: int(o.runAsUser),
    runAsGroup: int(o.runAsGroup),
    fsGroup: int(o.fsGroup),
    seccompProfile: seccomp(o.seccompProfile),
    appArmorProfile: appArmor(o.appArmorProfile),
    seLinuxOptions: seLinux(o.seLinuxOptions),
    windowsOptions: windowsOptions(o.windowsOptions),
    sysctls: o.sysctls === undefined ? undefined : sysctls,
  };
}

function handler(b: Bounds, v: unknown, path: string): Handler | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const exec = obj(o.exec);
  return defined({
    httpGetHost: str(obj(o.httpGet)?.host),
    tcpSocketHost: str(obj(o.tcpSocket)?.host),
    exec: exec ? strings(b, exec.command, `${path}.exec.command`) : undefined,
  });
}

function container(b: Bounds, v: unknown, path: string): Container | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const ports: ContainerPort[] = [];
  b.list(o.ports, `${path}.ports`).forEach((p) => {
    const po = obj(p);
    if (po)
      ports.push({
        containerPort: int(po.containerPort),
        hostPort: int(po.hostPort),
        protocol: str(po.protocol),
      });
  });
  const lifecycle = obj(o.lifecycle);
  return {
    name: str(o.name) ?? '',
    image: b.str(o.image, `${path}.image`) ?? '',
    command: strings(b, o.command, `${path}.command`),
    args: strings(b, o.args, `${path}.args`),
    workingDir: b.str(o.workingDir, `${path}.workingDir`),
    ports,
    securityContext: securityContext(b, o.securityContext, `${path}.securityContext`),
    livenessProbe: handler(b, o.livenessProbe, `${path}.livenessProbe`),
    readinessProbe: handler(b, o.readinessProbe, `${path}.readinessProbe`),
    startupProbe: handler(b, o.startupProbe, `${path}.startupProbe`),
    lifecycle: lifecycle
      ? {
          postStart: handler(b, lifecycle.postStart, `${path}.lifecycle.postStart`),
          preStop: handler(b, lifecycle.preStop, `${path}.lifecycle.preStop`),
        }
      : undefined,
  };
}

function containers(b: Bounds, v: unknown, path: string): Container[] {
  const out: Container[] = [];
  b.list(v, path).forEach((c, i) => {
    const sc = container(b, c, `${path}[${i}]`);
    // Keep positions aligned with the source so paths like containers[3] stay true.
    out.push(sc ?? { name: '', image: '', command: [], args: [], ports: [] });
  });
  return out;
}

function volumes(b: Bounds, v: unknown, path: string): Volume[] {
  const out: Volume[] = [];
  b.list(v, path).forEach((item) => {
    const o = obj(item) ?? {};
    const hp = obj(o.hostPath);
    const sources = Object.keys(o).filter(
      (k) => k !== 'name' && o[k] !== null && o[k] !== undefined,
    );
    out.push({
      name: str(o.name) ?? '',
      sources: sources.slice(0, 64),
      hostPath: hp
        ? { path: b.str(hp.path, `${path}.hostPath.path`) ?? '', type: str(hp.type) }
        : undefined,
    });
  });
  return out;
}

function requirements(b: Bounds, v: unknown, path: string): NodeSelectorRequirement[] {
  const out: NodeSelectorRequirement[] = [];
  b.list(v, path).forEach((r) => {
    const o = obj(r);
    const key = str(o?.key);
    if (o && key !== undefined)
      out.push({
        key,
        operator: str(o.operator) ?? '',
        values: strings(b, o.values, `${path}.values`),
      });
  });
  return out;
}

function term(b: Bounds, v: unknown, path: string): NodeSelectorTerm {
  const o = obj(v) ?? {};
  return {
    matchExpressions: requirements(b, o.matchExpressions, `${path}.matchExpressions`),
    matchFields: requirements(b, o.matchFields, `${path}.matchFields`),
  };
}

function nodeAffinity(b: Bounds, v: unknown): NodeAffinity | undefined {
  const na = obj(obj(v)?.nodeAffinity);
  if (!na) return undefined;
  const req = obj(na.requiredDuringSchedulingIgnoredDuringExecution);
  const path = 'spec.affinity.nodeAffinity';
  return {
    required: b
      .list(req?.nodeSelectorTerms, `${path}.required`)
      .map((t) => term(b, t, `${path}.required`)),
    preferred: b
      .list(na.preferredDuringSchedulingIgnoredDuringExecution, `${path}.preferred`)
      .map((p) => term(b, obj(p)?.preference, `${path}.preferred`)),
  };
}

function tolerations(b: Bounds, v: unknown): Toleration[] {
  return b
    .list(v, 'spec.tolerations')
    .map(obj)
    .filter((o): o is Json => o !== undefined)
    .map((o) => ({
      key: str(o.key),
      operator: str(o.operator),
      value: str(o.value),
      effect: str(o.effect),
    }));
}

/** Does any managedFields entry own spec.nodeName? Undefined when the object has no managedFields. */
function nodeNameOwned(meta: unknown): boolean | undefined {
  const entries = obj(meta)?.managedFields;
  if (!Array.isArray(entries) || entries.length === 0) return undefined;
  return entries.some((e) => obj(obj(obj(e)?.fieldsV1)?.['f:spec'])?.['f:nodeName'] !== undefined);
}

function podSpec(b: Bounds, v: unknown, nodeNameOwner?: boolean): PodSpec {
  const o = obj(v) ?? {};
  return {
    containers: containers(b, o.containers, 'spec.containers'),
    initContainers: containers(b, o.initContainers, 'spec.initContainers'),
    ephemeralContainers: containers(b, o.ephemeralContainers, 'spec.ephemeralContainers'),
    volumes: volumes(b, o.volumes, 'spec.volumes'),
    hostNetwork: bool(o.hostNetwork),
    hostPID: bool(o.hostPID),
    hostIPC: bool(o.hostIPC),
    hostUsers: bool(o.hostUsers),
    nodeName: str(o.nodeName),
    nodeNameFromBinding: str(o.nodeName) !== undefined && nodeNameOwner === false,
    nodeSelector: stringMap(b, o.nodeSelector, 'spec.nodeSelector'),
    nodeAffinity: nodeAffinity(b, o.affinity),
    tolerations: tolerations(b, o.tolerations),
    serviceAccountName: str(o.serviceAccountName) ?? str(o.serviceAccount),
    securityContext: podSecurityContext(b, o.securityContext, 'spec.securityContext'),
    os: obj(o.os) ? { name: str(obj(o.os)?.name) } : undefined,
  };
}

function ownerReferences(b: Bounds, v: unknown): OwnerReference[] {
  const out: OwnerReference[] = [];
  b.list(v, 'metadata.ownerReferences').forEach((r) => {
    const o = obj(r);
    if (o)
      out.push({
        apiVersion: str(o.apiVersion) ?? '',
        kind: str(o.kind) ?? '',
        name: str(o.name) ?? '',
        uid: str(o.uid) ?? '',
        controller: o.controller === true,
      });
  });
  return out;
}

function metadata(b: Bounds, v: unknown, defaultNamespace: string): ObjectMeta {
  const o = obj(v) ?? {};
  return {
    name: str(o.name) ?? str(o.generateName) ?? '',
    namespace: str(o.namespace) || defaultNamespace,
    uid: str(o.uid),
    resourceVersion: str(o.resourceVersion),
    generation: int(o.generation),
    creationTimestamp: str(o.creationTimestamp),
    deletionTimestamp: str(o.deletionTimestamp),
    labels: stringMap(b, o.labels, 'metadata.labels'),
    annotations: stringMap(b, o.annotations, 'metadata.annotations'),
    ownerReferences: ownerReferences(b, o.ownerReferences),
  };
}

/** Where each kind keeps its pod template. Workloads are judged like the pods they would create. */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const POD_KINDS: readonly string[] = Object.keys(TEMPLATE_PATHS);

export interface SanitizedPod {
  pod: PodView;
  /** Paths of fields cut to the engine's bounds. */
  truncated: string[];
}

/**
 * Turns any JSON value into a PodView, or says why it can't: a Pod or a workload with a pod
 * template is judged; anything else is not a pod (`undefined`).
 */
export function sanitizePod(raw: unknown, defaultNamespace = 'default'): SanitizedPod | undefined {
  const o = obj(raw);
  const kind = str(o?.kind);
  if (!o || kind === undefined || !Object.hasOwn(TEMPLATE_PATHS, kind)) return undefined;
  const b = new Bounds();
  const meta = metadata(b, o.metadata, defaultNamespace);
  const source = {
    apiVersion: str(o.apiVersion) ?? '',
    kind,
    name: meta.name,
    namespace: meta.namespace,
  };
  const templatePath = TEMPLATE_PATHS[kind] ?? [];
  if (templatePath.length === 0) {
    return {
      pod: {
        source,
        metadata: meta,
        spec: podSpec(b, o.spec, nodeNameOwned(o.metadata)),
        specPath: 'spec',
        metadataPath: 'metadata',
      },
      truncated: b.truncated,
    };
  }
  let template: unknown = o;
  for (const key of templatePath) template = obj(template)?.[key];
  const t = obj(template) ?? {};
  const tmeta = metadata(b, t.metadata, meta.namespace);
  const prefix = templatePath.join('.');
  return {
    pod: {
      source,
      // The template has labels and annotations; name, namespace and owners are the workload's.
      metadata: { ...meta, labels: tmeta.labels, annotations: tmeta.annotations },
      spec: podSpec(b, t.spec),
      specPath: `${prefix}.spec`,
      metadataPath: `${prefix}.metadata`,
    },
    truncated: b.truncated,
  };
}
