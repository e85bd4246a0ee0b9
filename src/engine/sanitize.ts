// From untrusted JSON (a watch event, a file handed to the CLI) to a PodView whose every field has the
// type it claims. Wrongly-typed fields are dropped, not coerced, and sizes are bounded: attackers
// control pod specs, and nothing they write may crash or stall the engine.
import type {
  AppArmorProfile,
  Capabilities,
  Container,
  ContainerPort,
  EnvVar,
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
import { asObject as obj, type Json } from '../base/json.ts';

/**
 * Longest string the rules will look at: 128 KiB, the kernel's limit on one exec argument
 * (MAX_ARG_STRLEN), so no command a container can really run is ever cut. Longer strings are cut
 * and the cut is reported: evaluation fails closed on it (input.oversized).
 */
export const MAX_STRING_LENGTH = 128 * 1024;
/** Most items of any list the rules will look at; longer lists are cut and reported likewise. */
export const MAX_LIST_ITEMS = 1024;
/**
 * Most text a pod may hand the text rules (indicators, deniedPatterns) in all: command, args,
 * probe and hook exec commands and env values, of every container together. The rules are linear
 * in it, but a pod is judged once per policy: the budget bounds what one pod can cost, whatever
 * its creator writes, and what is beyond it is cut and reported (input.oversized), never passed.
 */
export const MAX_POD_TEXT = 128 * 1024;
/**
 * Labels kept per pod. The API server bounds each label (a 317-character key, a 63-character value)
 * but not their number; real pods carry a few dozen at most. Beyond this the pod is input.oversized
 * and its selectors are judged as if they matched (match.ts), so cutting a label never hides a pod.
 */
export const MAX_LABELS = 128;

/** `spec.containers[0]`, `spec.hostPID`, `metadata.labels[app.kubernetes.io/name]`. */
function join(at: string, key: string | number): string {
  return typeof key === 'number' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
    ? `${at}[${key}]`
    : `${at}.${key}`;
}

/**
 * Reads fields with the types the API server would have enforced. A field of the wrong type is
 * dropped and its path kept in `invalid` (the API server rejects such an object; the offline CLI
 * reports it as invalid input), and a field beyond the bounds is cut with its path in `truncated`.
 * Paths are built only when something is wrong, so the clean path allocates nothing extra.
 */
class Reader {
  readonly truncated: string[] = [];
  readonly invalid: string[] = [];
  /** What is left of MAX_POD_TEXT for this pod. */
  private textLeft = MAX_POD_TEXT;

  private wrong(at: string, key: string | number, want: string): undefined {
    this.invalid.push(`${join(at, key)}: must be ${want}`);
    return undefined;
  }
  bool(o: Json, key: string, at: string): boolean | undefined {
    const v = o[key];
    if (v === undefined || v === null || typeof v === 'boolean') return v ?? undefined;
    return this.wrong(at, key, 'a boolean');
  }
  int(o: Json, key: string, at: string): number | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'number' && Number.isInteger(v) ? v : this.wrong(at, key, 'an integer');
  }
  str(o: Json | readonly unknown[], key: string | number, at: string): string | undefined {
    const v = (o as Record<string | number, unknown>)[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return this.wrong(at, key, 'a string');
    if (v.length <= MAX_STRING_LENGTH) return v;
    this.truncated.push(join(at, key));
    return v.slice(0, MAX_STRING_LENGTH);
  }
  obj(o: Json, key: string, at: string): Json | undefined {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    return obj(v) ?? this.wrong(at, key, 'an object');
  }
  list(o: Json, key: string, at: string): unknown[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.wrong(at, key, 'a list');
      return [];
    }
    if (v.length <= MAX_LIST_ITEMS) return v;
    this.truncated.push(`${at}.${key}`);
    return v.slice(0, MAX_LIST_ITEMS);
  }
  /** Items of a list that must be objects; a non-object item is invalid. */
  objects(o: Json, key: string, at: string): Json[] {
    const out: Json[] = [];
    const items = this.list(o, key, at);
    for (let i = 0; i < items.length; i++) {
      const item = obj(items[i]);
      if (item) out.push(item);
      else this.wrong(`${at}.${key}`, i, 'an object');
    }
    return out;
  }
  /** A string the text rules read: counted against the pod's text budget, cut beyond it. */
  text(o: Json | readonly unknown[], key: string | number, at: string): string | undefined {
    const v = this.str(o, key, at);
    if (v === undefined || v.length <= this.textLeft) {
      this.textLeft -= v?.length ?? 0;
      return v;
    }
    const kept = v.slice(0, this.textLeft);
    this.textLeft = 0;
    this.truncated.push(join(at, key));
    return kept;
  }
  /** A list of strings the text rules read (command, args, exec). */
  texts(o: Json, key: string, at: string): string[] {
    const out: string[] = [];
    const items = this.list(o, key, at);
    const here = `${at}.${key}`;
    for (let i = 0; i < items.length; i++) {
      const t = this.text(items, i, here);
      if (t !== undefined) out.push(t);
    }
    return out;
  }
  strings(o: Json, key: string, at: string): string[] {
    const out: string[] = [];
    const items = this.list(o, key, at);
    const here = `${at}.${key}`;
    for (let i = 0; i < items.length; i++) {
      const t = this.str(items, i, here);
      if (t !== undefined) out.push(t);
    }
    return out;
  }
  stringMap(o: Json, key: string, at: string, max = MAX_LIST_ITEMS): Record<string, string> {
    const out: Record<string, string> = {};
    const m = this.obj(o, key, at);
    if (!m) return out;
    const here = `${at}.${key}`;
    let n = 0;
    for (const k of Object.keys(m)) {
      if (++n > max) {
        this.truncated.push(here);
        break;
      }
      const t = this.str(m, k, here);
      if (t !== undefined) out[k] = t;
    }
    return out;
  }
}

function defined<T extends object>(o: T): T | undefined {
  return Object.values(o).some((v) => v !== undefined) ? o : undefined;
}

function windowsOptions(r: Reader, o: Json, at: string): WindowsOptions | undefined {
  const w = r.obj(o, 'windowsOptions', at);
  return w ? { hostProcess: r.bool(w, 'hostProcess', `${at}.windowsOptions`) } : undefined;
}

function profile(
  r: Reader,
  o: Json,
  key: string,
  at: string,
): SeccompProfile | AppArmorProfile | undefined {
  const p = r.obj(o, key, at);
  if (!p) return undefined;
  const here = `${at}.${key}`;
  return { type: r.str(p, 'type', here), localhostProfile: r.str(p, 'localhostProfile', here) };
}

function seLinux(r: Reader, o: Json, at: string): SELinuxOptions | undefined {
  const se = r.obj(o, 'seLinuxOptions', at);
  if (!se) return undefined;
  const here = `${at}.seLinuxOptions`;
  return {
    user: r.str(se, 'user', here),
    role: r.str(se, 'role', here),
    type: r.str(se, 'type', here),
    level: r.str(se, 'level', here),
  };
}

function capabilities(r: Reader, o: Json, at: string): Capabilities | undefined {
  const c = r.obj(o, 'capabilities', at);
  if (!c) return undefined;
  const here = `${at}.capabilities`;
  return {
    add: c.add === undefined || c.add === null ? undefined : r.strings(c, 'add', here),
    drop: c.drop === undefined || c.drop === null ? undefined : r.strings(c, 'drop', here),
  };
}

function securityContext(r: Reader, o: Json, at: string): SecurityContext | undefined {
  const sc = r.obj(o, 'securityContext', at);
  if (!sc) return undefined;
  const here = `${at}.securityContext`;
  return {
    privileged: r.bool(sc, 'privileged', here),
    allowPrivilegeEscalation: r.bool(sc, 'allowPrivilegeEscalation', here),
    runAsNonRoot: r.bool(sc, 'runAsNonRoot', here),
    runAsUser: r.int(sc, 'runAsUser', here),
    runAsGroup: r.int(sc, 'runAsGroup', here),
    readOnlyRootFilesystem: r.bool(sc, 'readOnlyRootFilesystem', here),
    procMount: r.str(sc, 'procMount', here),
    capabilities: capabilities(r, sc, here),
    seccompProfile: profile(r, sc, 'seccompProfile', here),
    appArmorProfile: profile(r, sc, 'appArmorProfile', here),
    seLinuxOptions: seLinux(r, sc, here),
    windowsOptions: windowsOptions(r, sc, here),
  };
}

function podSecurityContext(r: Reader, o: Json): PodSecurityContext | undefined {
  const sc = r.obj(o, 'securityContext', 'spec');
  if (!sc) return undefined;
  const here = 'spec.securityContext';
  const sysctls: Sysctl[] = [];
  for (const s of r.objects(sc, 'sysctls', here)) {
    const name = r.str(s, 'name', `${here}.sysctls`);
    if (name !== undefined)
      sysctls.push({ name, value: r.str(s, 'value', `${here}.sysctls`) ?? '' });
  }
  return {
    runAsNonRoot: r.bool(sc, 'runAsNonRoot', here),
    runAsUser: r.int(sc, 'runAsUser', here),
    runAsGroup: r.int(sc, 'runAsGroup', here),
    fsGroup: r.int(sc, 'fsGroup', here),
    seccompProfile: profile(r, sc, 'seccompProfile', here),
    appArmorProfile: profile(r, sc, 'appArmorProfile', here),
    seLinuxOptions: seLinux(r, sc, here),
    windowsOptions: windowsOptions(r, sc, here),
    sysctls: sc.sysctls === undefined || sc.sysctls === null ? undefined : sysctls,
  };
}

function handler(r: Reader, o: Json, key: string, at: string): Handler | undefined {
  const h = r.obj(o, key, at);
  if (!h) return undefined;
  const here = `${at}.${key}`;
  const httpGet = r.obj(h, 'httpGet', here);
  const tcpSocket = r.obj(h, 'tcpSocket', here);
  const exec = r.obj(h, 'exec', here);
  return defined({
    httpGetHost: httpGet ? r.str(httpGet, 'host', `${here}.httpGet`) : undefined,
    tcpSocketHost: tcpSocket ? r.str(tcpSocket, 'host', `${here}.tcpSocket`) : undefined,
    exec: exec ? r.texts(exec, 'command', `${here}.exec`) : undefined,
  });
}

function container(r: Reader, c: Json, at: string): Container {
  const ports: ContainerPort[] = [];
  for (const p of r.objects(c, 'ports', at)) {
    const here = `${at}.ports`;
    ports.push({
      containerPort: r.int(p, 'containerPort', here),
      hostPort: r.int(p, 'hostPort', here),
      protocol: r.str(p, 'protocol', here),
    });
  }
  const lifecycle = r.obj(c, 'lifecycle', at);
  return {
    name: r.str(c, 'name', at) ?? '',
    image: r.str(c, 'image', at) ?? '',
    command: r.texts(c, 'command', at),
    args: r.texts(c, 'args', at),
    env: envVars(r, c, at),
    workingDir: r.str(c, 'workingDir', at),
    ports,
    securityContext: securityContext(r, c, at),
    livenessProbe: handler(r, c, 'livenessProbe', at),
    readinessProbe: handler(r, c, 'readinessProbe', at),
    startupProbe: handler(r, c, 'startupProbe', at),
    lifecycle: lifecycle
      ? {
          postStart: handler(r, lifecycle, 'postStart', `${at}.lifecycle`),
          preStop: handler(r, lifecycle, 'preStop', `${at}.lifecycle`),
        }
      : undefined,
  };
}

/** The container's env: literal values only; one from valueFrom is unknowable to a spec check. */
function envVars(r: Reader, c: Json, at: string): EnvVar[] {
  return r.objects(c, 'env', at).map((e, i) => {
    const here = `${at}.env[${i}]`;
    const v: EnvVar = { name: r.str(e, 'name', here) ?? '' };
    const value = e.valueFrom === undefined ? r.text(e, 'value', here) : undefined;
    if (value !== undefined) v.value = value;
    return v;
  });
}

function containers(r: Reader, spec: Json, group: string): Container[] {
  const out: Container[] = [];
  const items = r.list(spec, group, 'spec');
  for (let i = 0; i < items.length; i++) {
    const at = `spec.${group}[${i}]`;
    const c = obj(items[i]);
    if (!c) r.invalid.push(`${at}: must be an object`);
    // Keep positions aligned with the source so paths like containers[3] stay true.
    out.push(
      c ? container(r, c, at) : { name: '', image: '', command: [], args: [], env: [], ports: [] },
    );
  }
  return out;
}

function volumes(r: Reader, spec: Json): Volume[] {
  const out: Volume[] = [];
  const items = r.list(spec, 'volumes', 'spec');
  for (let i = 0; i < items.length; i++) {
    const at = `spec.volumes[${i}]`;
    const v = obj(items[i]);
    if (!v) {
      r.invalid.push(`${at}: must be an object`);
      out.push({ name: '', sources: [] });
      continue;
    }
    const hp = r.obj(v, 'hostPath', at);
    const sources = Object.keys(v).filter(
      (k) => k !== 'name' && v[k] !== null && v[k] !== undefined,
    );
    out.push({
      name: r.str(v, 'name', at) ?? '',
      sources: sources.slice(0, 64),
      hostPath: hp
        ? {
            path: r.str(hp, 'path', `${at}.hostPath`) ?? '',
            type: r.str(hp, 'type', `${at}.hostPath`),
          }
        : undefined,
    });
  }
  return out;
}

function requirements(r: Reader, o: Json, key: string, at: string): NodeSelectorRequirement[] {
  const out: NodeSelectorRequirement[] = [];
  const here = `${at}.${key}`;
  for (const req of r.objects(o, key, at)) {
    const k = r.str(req, 'key', here);
    if (k !== undefined)
      out.push({
        key: k,
        operator: r.str(req, 'operator', here) ?? '',
        values: r.strings(req, 'values', here),
      });
  }
  return out;
}

function term(r: Reader, t: Json | undefined, at: string): NodeSelectorTerm {
  return {
    matchExpressions: t ? requirements(r, t, 'matchExpressions', at) : [],
    matchFields: t ? requirements(r, t, 'matchFields', at) : [],
  };
}

function nodeAffinity(r: Reader, spec: Json): NodeAffinity | undefined {
  const affinity = r.obj(spec, 'affinity', 'spec');
  const at = 'spec.affinity.nodeAffinity';
  const na = affinity && r.obj(affinity, 'nodeAffinity', 'spec.affinity');
  if (!na) return undefined;
  const req = r.obj(na, 'requiredDuringSchedulingIgnoredDuringExecution', at);
  const reqAt = `${at}.requiredDuringSchedulingIgnoredDuringExecution`;
  const prefAt = `${at}.preferredDuringSchedulingIgnoredDuringExecution`;
  return {
    required: req
      ? r
          .objects(req, 'nodeSelectorTerms', reqAt)
          .map((t) => term(r, t, `${reqAt}.nodeSelectorTerms`))
      : [],
    preferred: r
      .objects(na, 'preferredDuringSchedulingIgnoredDuringExecution', at)
      .map((p) => term(r, r.obj(p, 'preference', prefAt), `${prefAt}.preference`)),
  };
}

function tolerations(r: Reader, spec: Json): Toleration[] {
  const at = 'spec.tolerations';
  return r.objects(spec, 'tolerations', 'spec').map((t) => ({
    key: r.str(t, 'key', at),
    operator: r.str(t, 'operator', at),
    value: r.str(t, 'value', at),
    effect: r.str(t, 'effect', at),
  }));
}

/** Does any managedFields entry own spec.nodeName? Undefined when the object has no managedFields. */
function nodeNameOwned(meta: unknown): boolean | undefined {
  const entries = obj(meta)?.managedFields;
  if (!Array.isArray(entries) || entries.length === 0) return undefined;
  return entries.some((e) => obj(obj(obj(e)?.fieldsV1)?.['f:spec'])?.['f:nodeName'] !== undefined);
}

/**
 * `kubectl get -o yaml` leaves managedFields out, so an exported pod can't show who set nodeName.
 * A live pod (it has a uid) that a controller created got its nodeName from the scheduler: no
 * controller sets it, and a template that did is judged on the workload itself. Bare pods stay
 * suspect.
 */
function exportedControllerPod(meta: ObjectMeta): false | undefined {
  return meta.uid !== undefined && meta.ownerReferences.some((r) => r.controller)
    ? false
    : undefined;
}

function podSpec(r: Reader, spec: Json, nodeNameOwner?: boolean): PodSpec {
  const nodeName = r.str(spec, 'nodeName', 'spec');
  const os = r.obj(spec, 'os', 'spec');
  return {
    containers: containers(r, spec, 'containers'),
    initContainers: containers(r, spec, 'initContainers'),
    ephemeralContainers: containers(r, spec, 'ephemeralContainers'),
    volumes: volumes(r, spec),
    hostNetwork: r.bool(spec, 'hostNetwork', 'spec'),
    hostPID: r.bool(spec, 'hostPID', 'spec'),
    hostIPC: r.bool(spec, 'hostIPC', 'spec'),
    hostUsers: r.bool(spec, 'hostUsers', 'spec'),
    nodeName,
    nodeNameFromBinding: nodeName !== undefined && nodeNameOwner === false,
    nodeSelector: r.stringMap(spec, 'nodeSelector', 'spec'),
    nodeAffinity: nodeAffinity(r, spec),
    tolerations: tolerations(r, spec),
    serviceAccountName:
      r.str(spec, 'serviceAccountName', 'spec') ?? r.str(spec, 'serviceAccount', 'spec'),
    securityContext: podSecurityContext(r, spec),
    os: os ? { name: r.str(os, 'name', 'spec.os') } : undefined,
  };
}

function ownerReferences(r: Reader, meta: Json): OwnerReference[] {
  const at = 'metadata.ownerReferences';
  return r.objects(meta, 'ownerReferences', 'metadata').map((o) => ({
    apiVersion: r.str(o, 'apiVersion', at) ?? '',
    kind: r.str(o, 'kind', at) ?? '',
    name: r.str(o, 'name', at) ?? '',
    uid: r.str(o, 'uid', at) ?? '',
    controller: r.bool(o, 'controller', at) === true,
  }));
}

function labels(
  r: Reader,
  m: Json,
  at: string,
): { labels: Record<string, string>; labelsCut?: true } {
  const before = r.truncated.length;
  const out = r.stringMap(m, 'labels', at, MAX_LABELS);
  return r.truncated.length > before ? { labels: out, labelsCut: true } : { labels: out };
}

function metadata(r: Reader, m: Json, defaultNamespace: string, at: string): ObjectMeta {
  return {
    name: r.str(m, 'name', at) ?? r.str(m, 'generateName', at) ?? '',
    namespace: r.str(m, 'namespace', at) || defaultNamespace,
    uid: r.str(m, 'uid', at),
    resourceVersion: r.str(m, 'resourceVersion', at),
    generation: r.int(m, 'generation', at),
    creationTimestamp: r.str(m, 'creationTimestamp', at),
    deletionTimestamp: r.str(m, 'deletionTimestamp', at),
    deletionGracePeriodSeconds: r.int(m, 'deletionGracePeriodSeconds', at),
    ...labels(r, m, at),
    annotations: r.stringMap(m, 'annotations', at),
    ownerReferences: at === 'metadata' ? ownerReferences(r, m) : [],
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
  /** Paths of fields cut to the engine's bounds (pod-rooted, like violation paths). */
  truncated: string[];
  /** `path: must be …` for each field of the wrong type, which was dropped. */
  invalid: string[];
}

/**
 * Turns any JSON value into a PodView: a Pod, or a workload judged by its pod template. Anything
 * else is not a pod (`undefined`).
 */
export function sanitizePod(raw: unknown, defaultNamespace = 'default'): SanitizedPod | undefined {
  const o = obj(raw);
  const kind = o?.kind;
  if (!o || typeof kind !== 'string' || !Object.hasOwn(TEMPLATE_PATHS, kind)) return undefined;
  const r = new Reader();
  const meta = metadata(r, obj(o.metadata) ?? {}, defaultNamespace, 'metadata');
  const source = {
    apiVersion: typeof o.apiVersion === 'string' ? o.apiVersion : '',
    kind,
    name: meta.name,
    namespace: meta.namespace,
  };
  const templatePath = TEMPLATE_PATHS[kind] ?? [];
  if (templatePath.length === 0) {
    const pod: PodView = {
      source,
      metadata: meta,
      spec: podSpec(r, obj(o.spec) ?? {}, nodeNameOwned(o.metadata) ?? exportedControllerPod(meta)),
      specPath: 'spec',
      metadataPath: 'metadata',
    };
    return { pod, truncated: r.truncated, invalid: r.invalid };
  }
  let template: unknown = o;
  for (const key of templatePath) template = obj(template)?.[key];
  const t = obj(template) ?? {};
  const tmeta = metadata(r, obj(t.metadata) ?? {}, meta.namespace, 'metadata');
  const prefix = templatePath.join('.');
  const pod: PodView = {
    source,
    // The template has labels and annotations; name, namespace and owners are the workload's.
    metadata: {
      ...meta,
      labels: tmeta.labels,
      ...(tmeta.labelsCut ? { labelsCut: true as const } : {}),
      annotations: tmeta.annotations,
    },
    spec: podSpec(r, obj(t.spec) ?? {}),
    specPath: `${prefix}.spec`,
    metadataPath: `${prefix}.metadata`,
  };
  return { pod, truncated: r.truncated, invalid: r.invalid };
}
