// The OpenAPI v3 schema of a ContainerDeploymentPolicy: the one source for the CRD in crds/ (crd.ts),
// the field reference in docs/ and the parser in parse.ts, so the three cannot disagree.
// Bounds (maxItems, maxLength, maxProperties) sit on every list, string and map: the API server
// refuses CEL rules whose worst-case cost it cannot bound. The parser re-implements each
// x-kubernetes-validations rule by hand; keep the two in step when a rule changes.
import { ACTION_TYPES, ADMISSION_ACTIONS, MODES, SEVERITIES, WEEKDAYS } from './constants.ts';

/** One CEL rule in `x-kubernetes-validations` (apiextensions.k8s.io/v1 ValidationRule). */
export interface CelRule {
  rule: string;
  message: string;
  /** Field the error is reported on, relative to the schema the rule sits on (e.g. `.labels`). */
  fieldPath?: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps this project uses. */
export interface JSONSchemaProps {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'boolean';
  format?: 'date-time' | 'int64';
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  additionalProperties?: JSONSchemaProps;
  items?: JSONSchemaProps;
  enum?: readonly string[];
  default?: JSONValue;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
}

const enumText = (values: readonly string[]): string => values.join(' | ');

// Label syntax as Kubernetes validates it (apimachinery validation.IsQualifiedName / IsValidLabelValue).
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const DNS_SUBDOMAIN = '[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
/** Shared with the parser's twin of the CEL rule (policy-rules.ts). */
export const LABEL_KEY_PATTERN = `^(${DNS_SUBDOMAIN}/)?${LABEL_NAME}$`;
const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const HH_MM_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

const GLOB_HELP =
  'Globs: `*` matches any run of characters (including `/`), `?` matches exactly one character; everything else matches itself, case-sensitively.';
const NORMALISATION_HELP =
  'Image references are normalised first, the way the container runtime resolves them: a missing registry becomes `docker.io`, a missing Docker Hub namespace becomes `library/` and a missing tag becomes `:latest` (unless a digest is given), so `alpine` is matched as `docker.io/library/alpine:latest` and `bitnami/redis:7` as `docker.io/bitnami/redis:7`.';

const namespaceList = (description: string, dflt: string[]): JSONSchemaProps => ({
  description,
  type: 'array',
  default: dflt,
  maxItems: 128,
  items: { type: 'string', minLength: 1, maxLength: 253 },
});

/** metav1.LabelSelector's fields, defined once and shared by every selector in the policy. */
const labelSelectorProperties: Record<string, JSONSchemaProps> = {
  matchLabels: {
    description:
      'Labels that must all be present with exactly these values, e.g. {team: payments}. Equivalent to one In expression per entry. Default {}.',
    type: 'object',
    default: {},
    maxProperties: 64,
    additionalProperties: { type: 'string', maxLength: 63 },
  },
  matchExpressions: {
    description:
      'Label requirements that must all hold, e.g. [{key: env, operator: In, values: [prod, staging]}]. Default [].',
    type: 'array',
    default: [],
    maxItems: 32,
    items: {
      description: 'One label requirement: a key, an operator and (for In/NotIn) the values.',
      type: 'object',
      required: ['key', 'operator'],
      properties: {
        key: {
          description: 'The label key the requirement applies to, e.g. app.kubernetes.io/name.',
          type: 'string',
          minLength: 1,
          maxLength: 317,
        },
        operator: {
          description: `How the label's value is compared with values: ${enumText(['In', 'NotIn', 'Exists', 'DoesNotExist'])}. In: the label is present with one of values. NotIn: the label is absent or has none of values. Exists / DoesNotExist: the label is present / absent, whatever its value.`,
          type: 'string',
          enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
        },
        values: {
          description:
            'Label values for In and NotIn (at least one); must be empty for Exists and DoesNotExist. Default [].',
          type: 'array',
          default: [],
          maxItems: 64,
          items: { type: 'string', maxLength: 63 },
        },
      },
      'x-kubernetes-validations': [
        {
          rule: "self.operator in ['Exists', 'DoesNotExist'] || (has(self.values) && size(self.values) > 0)",
          message: 'values must list at least one value when operator is In or NotIn',
          fieldPath: '.values',
          reason: 'FieldValueRequired',
        },
        {
          rule: "self.operator in ['In', 'NotIn'] || !has(self.values) || size(self.values) == 0",
          message: 'values must be empty when operator is Exists or DoesNotExist',
          fieldPath: '.values',
          reason: 'FieldValueForbidden',
        },
      ],
    },
  },
};

const labelSelector = (description: string): JSONSchemaProps => ({
  description: `${description} When both matchLabels and matchExpressions are given, all of them must hold.`,
  type: 'object',
  properties: labelSelectorProperties,
});

const atLeastOne = (what: string): CelRule => ({
  rule: 'size(self) > 0',
  message: `${what} must have at least one entry`,
  reason: 'FieldValueRequired',
});

const match: JSONSchemaProps = {
  description:
    'Which pods this policy judges. A pod is judged when its namespace matches namespaces, does not match excludeNamespaces, and the pod and its namespace match the selectors given. Default {} (every pod in every namespace).',
  type: 'object',
  default: {},
  properties: {
    namespaces: {
      ...namespaceList(
        `Namespaces whose pods are judged, as names or globs, e.g. [team-*, payments]. Default ["*"] (all namespaces); an empty list is refused, since it would judge nothing. ${GLOB_HELP}`,
        ['*'],
      ),
      'x-kubernetes-validations': [atLeastOne('namespaces')],
    },
    excludeNamespaces: namespaceList(
      `Namespaces whose pods are never judged, even when they match namespaces, e.g. [kube-system]. Names or globs. Default []. ${GLOB_HELP}`,
      [],
    ),
    namespaceSelector: labelSelector(
      "Label selector on the pod's Namespace object, e.g. {matchLabels: {tier: prod}}; every namespace carries kubernetes.io/metadata.name=<name>. Absent or {}: namespaces are not filtered by label.",
    ),
    podSelector: labelSelector(
      'Label selector on the pod, e.g. {matchExpressions: [{key: app, operator: Exists}]}. Absent or {}: pods are not filtered by label.',
    ),
  },
};

const exclude: JSONSchemaProps = {
  description:
    'Exemptions: a pod that matches any one of these is not judged by this policy. Default {} (no exemptions).',
  type: 'object',
  default: {},
  properties: {
    images: {
      description: `Image globs, e.g. ["registry.k8s.io/*"]. A pod is exempt only if every one of its images (containers, initContainers and ephemeralContainers) matches some glob here. Default []. ${NORMALISATION_HELP} ${GLOB_HELP}`,
      type: 'array',
      default: [],
      maxItems: 128,
      items: { type: 'string', minLength: 1, maxLength: 512 },
    },
    serviceAccounts: {
      description: `Service accounts whose pods are exempt, each as "namespace/name", e.g. ["monitoring/node-exporter", "ci-*/builder"]. A pod without serviceAccountName runs as "default". Default []. ${GLOB_HELP}`,
      type: 'array',
      default: [],
      maxItems: 128,
      items: {
        type: 'string',
        maxLength: 507,
        'x-kubernetes-validations': [
          {
            rule: "self.matches('^[^/]+/[^/]+$')",
            message:
              'must be "namespace/name" (globs allowed in either part), e.g. monitoring/node-exporter',
          },
        ],
      },
    },
    podSelector: labelSelector(
      'Pods with these labels are exempt, e.g. {matchLabels: {deployguard.dev/exempt: "true"}}. Absent or {}: no pod is exempt by label (an empty selector is not read as "exempt everything").',
    ),
  },
};

const PSS_CHECKS =
  'privileged, hostNamespaces, hostPathVolumes, hostPorts, appArmorProfile, seLinuxOptions, procMount, seccompProfile_baseline, sysctls, windowsHostProcess, capabilities_baseline, hostProbesAndHostLifecycle; restricted adds restrictedVolumes, allowPrivilegeEscalation, runAsNonRoot, runAsUser, seccompProfile_restricted, capabilities_restricted, procMount_restricted';

const podSecurity: JSONSchemaProps = {
  description:
    'Checks pods against the Kubernetes Pod Security Standards, with the upstream check IDs and semantics. Each failing check is reported as rule pss.<checkID>, e.g. pss.privileged. Absent: not checked.',
  type: 'object',
  required: ['level'],
  properties: {
    level: {
      description:
        'Pod Security Standards level: baseline (blocks known privilege escalations: privileged, host namespaces, hostPath, host ports, added capabilities...) or restricted (baseline plus hardening: non-root, no privilege escalation, seccomp, dropped capabilities). Required.',
      type: 'string',
      enum: ['baseline', 'restricted'],
    },
    version: {
      description:
        'The Kubernetes minor version whose definition of the level applies: latest, or v1.N such as v1.30. Default latest.',
      type: 'string',
      default: 'latest',
      maxLength: 16,
      pattern: '^(latest|v1[.](0|[1-9][0-9]{0,2}))$',
    },
    exemptChecks: {
      description: `Upstream check IDs to skip, e.g. [hostPorts]. An ID that the level and version do not have makes the policy Ready=False. IDs: ${PSS_CHECKS}. Default [].`,
      type: 'array',
      default: [],
      maxItems: 32,
      items: { type: 'string', minLength: 1, maxLength: 64 },
    },
  },
};

const images: JSONSchemaProps = {
  description: `Checks the image references of every container, initContainer and ephemeralContainer. Rules: image.registry, image.denied, image.latestTag, image.digest. ${NORMALISATION_HELP} Absent: not checked.`,
  type: 'object',
  properties: {
    allowedRegistries: {
      description:
        'Allowed prefixes of the normalised image reference, e.g. ["registry.example.com/", "docker.io/library/"]; an image that starts with none of them violates image.registry. Prefixes, not globs (no * or ?). An entry that ends in "/" is a plain prefix; any other entry must end where the reference has "/", ":" or "@", so registry.example.com admits registry.example.com/app but not registry.example.com.evil.io/app. Registry hosts compare case-insensitively and Docker Hub aliases (index.docker.io/) mean docker.io/. Default [] (any registry).',
      type: 'array',
      default: [],
      maxItems: 64,
      items: { type: 'string', minLength: 1, maxLength: 512, pattern: '^[^*?]+$' },
    },
    deniedImages: {
      description: `Globs on the normalised image reference; an image that matches any of them violates image.denied, e.g. ["*xmrig*", "*/kinsing*"]. Default []. ${GLOB_HELP}`,
      type: 'array',
      default: [],
      maxItems: 128,
      items: { type: 'string', minLength: 1, maxLength: 512 },
    },
    requireDigest: {
      description:
        'true: every image must be pinned by digest (@sha256:...); an image without one violates image.digest. Default false.',
      type: 'boolean',
      default: false,
    },
    disallowLatestTag: {
      description:
        'true: an image whose tag is missing or "latest" (and that has no digest) violates image.latestTag. Default true.',
      type: 'boolean',
      default: true,
    },
  },
};

const hostPaths: JSONSchemaProps = {
  description:
    'Checks hostPath volumes, the usual way out of a container onto its node. Rule: hostPath.sensitive. A volume matches a path when its path equals it or lies under it (/etc matches /etc/kubernetes but not /etcd). Absent: not checked.',
  type: 'object',
  properties: {
    denySensitive: {
      description:
        'true: deny the built-in sensitive paths: /, /proc, /etc, /root, /home, /var/lib/kubelet, /etc/kubernetes and the Docker, containerd and CRI-O sockets under /run and /var/run. A hostPath of / is always sensitive. Default true.',
      type: 'boolean',
      default: true,
    },
    denied: {
      description: 'Extra absolute path prefixes to deny, e.g. ["/opt/secrets"]. Default [].',
      type: 'array',
      default: [],
      maxItems: 64,
      items: {
        type: 'string',
        maxLength: 1024,
        'x-kubernetes-validations': [
          { rule: "self.startsWith('/')", message: 'must be an absolute path, e.g. /opt/secrets' },
        ],
      },
    },
  },
};

const indicators: JSONSchemaProps = {
  description:
    'Built-in T1610 behaviour indicators in images, command, args and workingDir: reverse shells (indicator.reverseShell), download-and-execute (indicator.downloadExec), crypto miners (indicator.miner) and working directories under /proc/self/fd (indicator.procFdWorkingDir, CVE-2024-21626). Absent: not checked.',
  type: 'object',
  properties: {
    enabled: {
      description: 'false turns the indicators off without removing the block. Default true.',
      type: 'boolean',
      default: true,
    },
  },
};

const commands: JSONSchemaProps = {
  description:
    'Denies containers whose command line matches a regular expression. Rule: command.denied. Absent: not checked.',
  type: 'object',
  required: ['deniedPatterns'],
  properties: {
    deniedPatterns: {
      description:
        'Regular expressions in RE2 syntax (no backreferences or lookaround), matched against each container\'s command and args joined with single spaces (command [sh, -c] with args ["nsenter -t 1 -m"] gives the line `sh -c nsenter -t 1 -m`). A pattern matches anywhere in the line unless anchored with ^ or $; (?i) makes it case-insensitive. Example: (?i)nsenter\\s+-t\\s*1 (inside double quotes in YAML, write each backslash twice). An invalid expression makes the policy Ready=False. Required, at least one.',
      type: 'array',
      maxItems: 64,
      items: { type: 'string', minLength: 1, maxLength: 1024 },
      'x-kubernetes-validations': [atLeastOne('deniedPatterns')],
    },
  },
};

const scheduling: JSONSchemaProps = {
  description:
    'Denies pods that steer themselves onto a chosen node, a way to reach a control-plane or otherwise sensitive node. Absent: not checked.',
  type: 'object',
  properties: {
    denyNodeName: {
      description:
        'true: a pod whose creator set spec.nodeName itself, bypassing the scheduler, violates scheduling.nodeName. Default true.',
      type: 'boolean',
      default: true,
    },
    denyHostnameSelector: {
      description:
        'true: a pod pinned to a node through kubernetes.io/hostname in nodeSelector or required node affinity violates scheduling.hostnameSelector. Default true.',
      type: 'boolean',
      default: true,
    },
    denyControlPlaneTolerations: {
      description:
        'true: a pod that tolerates the node-role.kubernetes.io/control-plane or node-role.kubernetes.io/master taint (or every taint, with an empty key and operator Exists) violates scheduling.controlPlaneToleration. Default true.',
      type: 'boolean',
      default: true,
    },
  },
};

const ownership: JSONSchemaProps = {
  description: 'Checks who created the pod. Absent: not checked.',
  type: 'object',
  properties: {
    denyBarePods: {
      description:
        'true: a pod without a controller ownerReference (not made by a Deployment, Job, DaemonSet...) violates ownership.barePod. Default true.',
      type: 'boolean',
      default: true,
    },
  },
};

const timeOfDay = (which: string): JSONSchemaProps => ({
  description: `${which} of the window as 24-hour HH:MM local time in timeZone, e.g. "08:00". Required.`,
  type: 'string',
  maxLength: 5,
  pattern: HH_MM_PATTERN,
});

const schedule: JSONSchemaProps = {
  description:
    'Allows pods to be created only inside maintenance or business-hours windows; a pod created outside every window violates schedule.window. Absent: not checked.',
  type: 'object',
  required: ['allowedWindows'],
  properties: {
    allowedWindows: {
      description:
        'Time windows in which pods may be created, e.g. [{days: [Mon, Tue, Wed, Thu, Fri], start: "08:00", end: "18:00", timeZone: Europe/Berlin}]. A pod is judged by its creationTimestamp. Required, at least one.',
      type: 'array',
      maxItems: 16,
      'x-kubernetes-validations': [atLeastOne('allowedWindows')],
      items: {
        description:
          'A weekly window from start (inclusive) to end (exclusive). A window whose end is earlier than its start runs past midnight into the next day, e.g. start "22:00", end "06:00".',
        type: 'object',
        required: ['days', 'start', 'end'],
        properties: {
          days: {
            description: `Days on which the window opens: ${enumText(WEEKDAYS)}, e.g. [Sat, Sun]. Required, at least one.`,
            type: 'array',
            maxItems: 7,
            items: { type: 'string', enum: WEEKDAYS },
            'x-kubernetes-validations': [atLeastOne('days')],
          },
          start: timeOfDay('Start'),
          end: timeOfDay('End'),
          timeZone: {
            description:
              'IANA time zone of start and end, e.g. Europe/Berlin or America/New_York. An unknown zone makes the policy Ready=False. Default "UTC".',
            type: 'string',
            default: 'UTC',
            minLength: 1,
            maxLength: 64,
          },
        },
        'x-kubernetes-validations': [
          {
            rule: 'self.start != self.end',
            message:
              'end must differ from start (a window that runs past midnight has end < start)',
            fieldPath: '.end',
          },
        ],
      },
    },
  },
};

/** The shape of a rule ID (`pss.privileged`, `image.latestTag`), for `severity` keys. */
export const RULE_ID_PATTERN = '^[a-z][A-Za-z]*[.][A-Za-z][A-Za-z0-9_]*$';

export const RULE_BLOCKS = [
  'podSecurity',
  'images',
  'hostPaths',
  'indicators',
  'commands',
  'scheduling',
  'ownership',
  'schedule',
] as const;

const rules: JSONSchemaProps = {
  description:
    'The checks this policy applies. Each block is optional and an absent block is not checked, but at least one block must be given. Every rule looks at containers, initContainers and ephemeralContainers.',
  type: 'object',
  properties: {
    podSecurity,
    images,
    hostPaths,
    indicators,
    commands,
    scheduling,
    ownership,
    schedule,
  },
  'x-kubernetes-validations': [
    {
      rule: RULE_BLOCKS.map((b) => `has(self.${b})`).join(' || '),
      message: `rules must contain at least one rule block: ${RULE_BLOCKS.join(', ')}`,
      reason: 'FieldValueRequired',
    },
  ],
};

const severity: JSONSchemaProps = {
  description: `Overrides of the default severity of rules, keyed by rule ID, e.g. {"ownership.barePod": high, "pss.hostPorts": critical}. Severities: ${enumText(SEVERITIES)}. Severity decides which actions run (minSeverity) and how violations are reported. Default {} (the built-in severities).`,
  type: 'object',
  default: {},
  maxProperties: 64,
  additionalProperties: { type: 'string', enum: SEVERITIES },
  'x-kubernetes-validations': [
    {
      rule: `self.all(k, k.matches('${RULE_ID_PATTERN}'))`,
      message: 'keys must be rule IDs such as pss.privileged or image.latestTag',
    },
  ],
};

const action: JSONSchemaProps = {
  description:
    "One remediation step. Label adds labels to the pod; Isolate creates a NetworkPolicy that denies all ingress and egress of the pod; DeletePod deletes (or evicts) the pod; CordonNode marks the pod's node unschedulable (the operator never uncordons).",
  type: 'object',
  required: ['type'],
  properties: {
    type: {
      description: `What to do: ${enumText(ACTION_TYPES)}. Required.`,
      type: 'string',
      enum: ACTION_TYPES,
    },
    minSeverity: {
      description: `Run this action only for violations at least this severe: ${enumText(SEVERITIES)} (critical is the most severe), e.g. high runs it for high and critical. Absent: every severity.`,
      type: 'string',
      enum: SEVERITIES,
    },
    labels: {
      description:
        'Labels to add to the pod, e.g. {quarantine: "true"}. Required (at least one) for a Label action and not allowed on any other.',
      type: 'object',
      maxProperties: 16,
      additionalProperties: { type: 'string', maxLength: 63, pattern: LABEL_VALUE_PATTERN },
      'x-kubernetes-validations': [
        {
          rule: `self.all(k, k.matches('${LABEL_KEY_PATTERN}'))`,
          message: 'keys must be valid label keys, e.g. quarantine or example.com/quarantine',
        },
      ],
    },
    gracePeriodSeconds: {
      description:
        "DeletePod only: seconds the pod gets to shut down; 0 kills it at once, e.g. 0. Absent: the pod's own terminationGracePeriodSeconds.",
      type: 'integer',
      minimum: 0,
      maximum: 86400,
    },
    evict: {
      description:
        'DeletePod only: true evicts the pod through the Eviction API, which honours PodDisruptionBudgets (the pod may then stay); false deletes it. Default false (applied by the operator, since the field exists only on DeletePod).',
      type: 'boolean',
    },
  },
  'x-kubernetes-validations': [
    {
      rule: "self.type != 'Label' || (has(self.labels) && size(self.labels) > 0)",
      message: 'a Label action needs at least one entry in labels',
      fieldPath: '.labels',
      reason: 'FieldValueRequired',
    },
    {
      rule: "self.type == 'Label' || !has(self.labels)",
      message: 'labels is only allowed on a Label action',
      fieldPath: '.labels',
      reason: 'FieldValueForbidden',
    },
    {
      rule: "self.type == 'DeletePod' || !has(self.gracePeriodSeconds)",
      message: 'gracePeriodSeconds is only allowed on a DeletePod action',
      fieldPath: '.gracePeriodSeconds',
      reason: 'FieldValueForbidden',
    },
    {
      rule: "self.type == 'DeletePod' || !has(self.evict)",
      message: 'evict is only allowed on a DeletePod action',
      fieldPath: '.evict',
      reason: 'FieldValueForbidden',
    },
  ],
};

const guards: JSONSchemaProps = {
  description:
    'Safety limits on actions, so a bad policy cannot take down the cluster. A skipped action is reported with an ActionSkipped event. Default {} (the defaults below).',
  type: 'object',
  default: {},
  properties: {
    maxActionsPerMinute: {
      description:
        'Most actions this policy may run per minute; beyond it actions are skipped and the breaker opens (status.breaker: Open) until the rate falls. At least 1. Default 30.',
      type: 'integer',
      default: 30,
      minimum: 1,
      maximum: 10000,
    },
    protectedNamespaces: namespaceList(
      `Namespaces in which violations are annotated and reported but no action ever runs, as names or globs. Default ["kube-system"]. ${GLOB_HELP}`,
      ['kube-system'],
    ),
    maxCordonedNodesPercent: {
      description:
        "CordonNode is skipped once this percentage of the cluster's nodes would be unschedulable, 0 to 100, e.g. 20. 0 never cordons. Default 20.",
      type: 'integer',
      default: 20,
      minimum: 0,
      maximum: 100,
    },
    ignoreOwnerKinds: {
      description:
        'Kinds of controller owners whose pods are never deleted, because the owner would only recreate them; they are reported instead, e.g. [DaemonSet]. Default [].',
      type: 'array',
      default: [],
      maxItems: 16,
      items: { type: 'string', maxLength: 63, pattern: '^[A-Z][A-Za-z0-9]*$' },
    },
  },
};

const admission: JSONSchemaProps = {
  description:
    'What happens when a pod or workload that violates this policy is created or changed, before it exists: the admission webhook of `deployguard run` answers for it. Independent of mode, which decides what the operator does after. An update is refused only for violations it adds, so pods and workloads admitted earlier can still be labelled, scaled and cleaned up. Default {} (Off).',
  type: 'object',
  default: {},
  properties: {
    action: {
      description: `${enumText(ADMISSION_ACTIONS)}. Deny refuses the request with a message naming the policy, rule and field. Warn admits it with warnings (kubectl prints them). Off leaves admission alone (write it quoted, 'Off': kubectl reads a bare Off as the boolean false). The webhook fails open: while it is down, pods are admitted and judged on their first watch event. Default Off.`,
      type: 'string',
      enum: ADMISSION_ACTIONS,
      default: 'Off',
    },
    minSeverity: {
      description: `Act at admission only for violations at least this severe: ${enumText(SEVERITIES)}, e.g. high denies high and critical and lets the rest through to the operator. Absent: every severity.`,
      type: 'string',
      enum: SEVERITIES,
    },
  },
};

const spec: JSONSchemaProps = {
  description:
    'What the policy checks, which pods it applies to and what it does about violations.',
  type: 'object',
  required: ['rules'],
  properties: {
    mode: {
      description: `${enumText(MODES)}. Audit records violations only (pod annotations and label, events, status, PolicyReports, metrics). Enforce does the same and also runs actions. Default Audit.`,
      type: 'string',
      enum: MODES,
      default: 'Audit',
    },
    match,
    exclude,
    rules,
    severity,
    actions: {
      description:
        'Remediation steps, run in order for each violating pod in Enforce mode only (ignored in Audit), subject to guards, e.g. [{type: Label, labels: {quarantine: "true"}}, {type: DeletePod, minSeverity: high}]. Default [] (report only).',
      type: 'array',
      default: [],
      maxItems: 16,
      items: action,
    },
    guards,
    admission,
  },
};

const condition: JSONSchemaProps = {
  description:
    "One aspect of the policy's state, in the standard Kubernetes condition shape (metav1.Condition).",
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: {
      description:
        'Condition type. Ready: True when the policy is in effect; False with reason InvalidSpec and a message naming the field when the operator cannot use it.',
      type: 'string',
      maxLength: 316,
      pattern: `^(${DNS_SUBDOMAIN}/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`,
    },
    status: {
      description: 'True, False or Unknown.',
      type: 'string',
      enum: ['True', 'False', 'Unknown'],
    },
    observedGeneration: {
      description: 'metadata.generation of the policy this condition was computed from.',
      type: 'integer',
      format: 'int64',
      minimum: 0,
    },
    lastTransitionTime: {
      description: 'When status last changed (RFC 3339).',
      type: 'string',
      format: 'date-time',
    },
    reason: {
      description:
        'Machine-readable CamelCase reason for the status, e.g. Accepted or InvalidSpec.',
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    },
    message: {
      description: 'Human-readable detail; for InvalidSpec, the field at fault and what is wrong.',
      type: 'string',
      maxLength: 32768,
    },
  },
};

const counter = (description: string): JSONSchemaProps => ({
  description,
  type: 'integer',
  format: 'int64',
  minimum: 0,
});

const status: JSONSchemaProps = {
  description: 'What the operator observed; written by the operator only.',
  type: 'object',
  properties: {
    observedGeneration: counter('metadata.generation of the spec this status describes.'),
    conditions: {
      description: 'Standard conditions, one per type; the operator sets Ready.',
      type: 'array',
      maxItems: 16,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: condition,
    },
    violatingPods: counter('Number of pods violating this policy now.'),
    totalViolations: counter('Number of violations recorded since the policy was created.'),
    actions: {
      description: `Number of actions this policy has run since it was created, by action type (${enumText(ACTION_TYPES)}), e.g. {Label: 2, DeletePod: 5}.`,
      type: 'object',
      maxProperties: ACTION_TYPES.length,
      additionalProperties: counter('Actions of this type run.'),
      'x-kubernetes-validations': [
        {
          rule: `self.all(k, k in [${ACTION_TYPES.map((t) => `'${t}'`).join(', ')}])`,
          message: `keys must be action types: ${ACTION_TYPES.join(', ')}`,
        },
      ],
    },
    totalActions: counter('Sum of the counts in actions (shown by kubectl get).'),
    breaker: {
      description:
        'Closed: actions run normally. Open: guards.maxActionsPerMinute was exceeded across the cluster and actions are being skipped everywhere.',
      type: 'string',
      enum: ['Closed', 'Open'],
    },
    throttledNamespaces: {
      description:
        "Namespaces whose own breaker is open: each namespace may use only a quarter of guards.maxActionsPerMinute, so one namespace's flood holds back only its own pods.",
      type: 'array',
      maxItems: 32,
      items: { description: 'A namespace name.', type: 'string', maxLength: 63 },
    },
    lastViolationTime: {
      description: 'When this policy last recorded a violation (RFC 3339).',
      type: 'string',
      format: 'date-time',
    },
    loopingWorkloads: {
      description:
        "Owners whose pods are being deleted and recreated over and over by this policy's actions; fix or exclude them (guards.ignoreOwnerKinds, exclude).",
      type: 'array',
      maxItems: 32,
      items: {
        description: 'A workload caught in a delete/recreate loop.',
        type: 'object',
        required: ['kind', 'namespace', 'name'],
        properties: {
          kind: {
            description: 'Kind of the owner, e.g. ReplicaSet.',
            type: 'string',
            maxLength: 63,
          },
          namespace: { description: 'Namespace of the owner.', type: 'string', maxLength: 63 },
          name: { description: 'Name of the owner.', type: 'string', maxLength: 253 },
        },
      },
    },
  },
};

/** The whole ContainerDeploymentPolicy object, as the CRD's openAPIV3Schema. */
export const policySchema: JSONSchemaProps = {
  description:
    'ContainerDeploymentPolicy detects pods deployed the way attackers deploy containers (MITRE ATT&CK T1610: privileged or host-mounting pods, untrusted images, reverse shells, miners, node pinning, bare pods, off-hours deployments) and, in Enforce mode, remediates them. Cluster-scoped.',
  type: 'object',
  required: ['spec'],
  properties: {
    apiVersion: {
      description: 'Versioned schema of this object: deployguard.dev/v1alpha1.',
      type: 'string',
    },
    kind: {
      description: 'ContainerDeploymentPolicy.',
      type: 'string',
    },
    // The API server forbids anything but type on the root metadata (no description).
    metadata: { type: 'object' },
    spec,
    status,
  },
};
