// The engine's view of a pod: a subset of core/v1 Pod with Kubernetes' own field names, holding only
// what the rules read. Every field has the type it claims (see sanitize.ts), so rules never have to
// defend against a string where an object was expected.
import type { ObjectRef } from '../base/object-ref.ts';

/** An entry of metadata.ownerReferences: written by the pod's creator, so a claim, not a fact. */
export interface OwnerReference extends ObjectRef {
  uid: string;
  controller: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  /** While terminating: how long the containers still get (the deleter chose it). */
  deletionGracePeriodSeconds?: number;
  labels: Record<string, string>;
  /** More labels than the sanitizer keeps (MAX_LABELS): selectors can't be judged on what is left. */
  labelsCut?: true;
  annotations: Record<string, string>;
  ownerReferences: OwnerReference[];
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
}

export interface SeccompProfile {
  type?: string;
  localhostProfile?: string;
}

export interface AppArmorProfile {
  type?: string;
  localhostProfile?: string;
}

export interface SELinuxOptions {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

export interface WindowsOptions {
  hostProcess?: boolean;
}

export interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  procMount?: string;
  capabilities?: Capabilities;
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
  seLinuxOptions?: SELinuxOptions;
  windowsOptions?: WindowsOptions;
}

export interface Sysctl {
  name: string;
  value: string;
}

export interface PodSecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  supplementalGroups?: number[];
  seccompProfile?: SeccompProfile;
  appArmorProfile?: AppArmorProfile;
  seLinuxOptions?: SELinuxOptions;
  windowsOptions?: WindowsOptions;
  sysctls?: Sysctl[];
}

export interface ContainerPort {
  containerPort?: number;
  hostPort?: number;
  protocol?: string;
}

/** An httpGet / tcpSocket handler of a probe or lifecycle hook; only `host` matters to PSS. */
export interface Handler {
  httpGetHost?: string;
  tcpSocketHost?: string;
  /** `exec.command` of the handler: attacker-controlled like the container command. */
  exec?: string[];
}

/** An env entry: `value` is there only when the spec gives it literally (not valueFrom). */
export interface EnvVar {
  name: string;
  value?: string;
}

export interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: EnvVar[];
  workingDir?: string;
  ports: ContainerPort[];
  securityContext?: SecurityContext;
  livenessProbe?: Handler;
  readinessProbe?: Handler;
  startupProbe?: Handler;
  lifecycle?: { postStart?: Handler; preStop?: Handler };
}

export interface HostPathVolumeSource {
  path: string;
  type?: string;
}

export interface Volume {
  name: string;
  /** The volume source fields that are set (`hostPath`, `emptyDir`, ...), whatever their content. */
  sources: string[];
  hostPath?: HostPathVolumeSource;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values: string[];
}

export interface NodeSelectorTerm {
  matchExpressions: NodeSelectorRequirement[];
  matchFields: NodeSelectorRequirement[];
}

export interface NodeAffinity {
  required: NodeSelectorTerm[];
  preferred: NodeSelectorTerm[];
}

export interface PodSpec {
  containers: Container[];
  initContainers: Container[];
  ephemeralContainers: Container[];
  volumes: Volume[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  hostUsers?: boolean;
  nodeName?: string;
  /**
   * True when the object's managedFields show that no writer owns spec.nodeName: the scheduler set
   * it through the binding subresource, which field management does not track. A manifest (no
   * managedFields) or a pod created with nodeName leaves this false.
   */
  nodeNameFromBinding: boolean;
  nodeSelector: Record<string, string>;
  nodeAffinity?: NodeAffinity;
  tolerations: Toleration[];
  serviceAccountName?: string;
  securityContext?: PodSecurityContext;
  os?: { name?: string };
}

/**
 * A pod, or the pod template of a workload, ready for the rules. `path` maps the pod's own paths
 * (`spec.…`, `metadata.…`) to where they live in the source resource.
 */
export interface PodView {
  /** The resource the pod came from: a Pod, or a workload that holds a pod template. */
  source: { apiVersion: string; kind: string; name: string; namespace: string };
  /** Metadata of the pod (for a workload: the template's labels/annotations, the workload's name/namespace/owners). */
  metadata: ObjectMeta;
  spec: PodSpec;
  /** Where `spec` sits in the source resource: `spec` for a Pod, `spec.template.spec` for a Deployment. */
  specPath: string;
  /** Where the pod's metadata sits in the source resource. */
  metadataPath: string;
}

export type ContainerGroup = 'containers' | 'initContainers' | 'ephemeralContainers';

export interface ContainerRef {
  container: Container;
  group: ContainerGroup;
  index: number;
  /** Path of this container from the pod root: `spec.initContainers[1]`. */
  path: string;
  /** `container.name`, `container.securityContext` and its path: what the PSS checks read. */
  name: string;
  sc: SecurityContext | undefined;
  /** `spec.initContainers[1].securityContext` */
  scPath: string;
}

const GROUPS: readonly ContainerGroup[] = ['containers', 'initContainers', 'ephemeralContainers'];

// The same few hundred path strings serve every pod: build each once, not per container per view.
// Bounded by the sanitizer's list bound; a longer hand-built list just builds the rest each time.
const PATHS: Record<ContainerGroup, [string, string][]> = {
  containers: [],
  initContainers: [],
  ephemeralContainers: [],
};

function paths(group: ContainerGroup, index: number): [string, string] {
  const table = PATHS[group];
  let p = table[index];
  if (p === undefined) {
    const path = `spec.${group}[${index}]`;
    p = [path, `${path}.securityContext`];
    if (index < 1024) table[index] = p;
  }
  return p;
}

// Every rule of every policy walks the containers: the list of the spec judged last is kept, so one
// evaluation builds it once. One entry, not a WeakMap keyed by every view: a fresh view per watch
// event made each evaluation pay for a WeakMap entry (and the GC for its ephemeron). Views are never
// mutated after sanitizing, so the memo can't go stale.
let lastSpec: PodSpec | undefined;
let lastRefs: readonly ContainerRef[] = [];

/** Every container of the pod, init and ephemeral ones included: all rules look at all three. */
export function allContainers(spec: PodSpec): readonly ContainerRef[] {
  if (spec === lastSpec) return lastRefs;
  const out: ContainerRef[] = [];
  for (const group of GROUPS) {
    const list = spec[group];
    for (let index = 0; index < list.length; index++) {
      const container = list[index] as Container;
      const [path, scPath] = paths(group, index);
      out.push({
        container,
        group,
        index,
        path,
        name: container.name,
        sc: container.securityContext,
        scPath,
      });
    }
  }
  lastSpec = spec;
  lastRefs = Object.freeze(out);
  return lastRefs;
}
