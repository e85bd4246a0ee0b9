// Names that users, dashboards and scripts depend on (docs/api.md). Changing one is a breaking change.
export const GROUP = 'deployguard.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ContainerDeploymentPolicy';
export const PLURAL = 'containerdeploymentpolicies';
/** The policies' collection in the API server (cluster-scoped). */
export const POLICY_COLLECTION = `/apis/${API_VERSION}/${PLURAL}`;

export const ANNOTATION_VIOLATIONS = `${GROUP}/violations`;
export const ANNOTATION_DETECTED_AT = `${GROUP}/detected-at`;
export const LABEL_VIOLATING = `${GROUP}/violating`;
/**
 * The UID of the pod the record was written for. A pod's creator can't know its UID beforehand, so
 * a record that arrives with the pod (forged to suppress detection) never matches and is ignored.
 */
export const ANNOTATION_RECORDED_UID = `${GROUP}/recorded-uid`;
export const ANNOTATION_CORDONED_BY = `${GROUP}/cordoned-by`;
export const ANNOTATION_CORDONED_AT = `${GROUP}/cordoned-at`;
/** Label the Isolate action puts on a pod (value: the pod's UID) so its NetworkPolicy selects it alone. */
export const LABEL_ISOLATED = `${GROUP}/isolated`;
export const REPORTING_CONTROLLER = `${GROUP}/operator`;
export const LEASE_NAME = 'deployguard-leader';

export const MODES = ['Audit', 'Enforce'] as const;
export type Mode = (typeof MODES)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher is worse; used for minSeverity filtering and sorting. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  critical: 4,
  high: 3,
  medium: 2,
  low: 1,
};

export const ACTION_TYPES = ['Label', 'Isolate', 'DeletePod', 'CordonNode'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const ADMISSION_ACTIONS = ['Deny', 'Warn', 'Off'] as const;
export type AdmissionAction = (typeof ADMISSION_ACTIONS)[number];

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
