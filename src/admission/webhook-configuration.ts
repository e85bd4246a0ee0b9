// The ValidatingWebhookConfiguration the operator keeps for itself. Pure: what it should be, from
// where the webhook is reached and the CA bundle. Safe by construction: it fails open
// (failurePolicy Ignore) within a short timeout, declares no side effects (dry runs are judged
// like any request), and never applies to the operator's own namespace or kube-system, so a
// broken webhook can neither brick the cluster nor stop the operator from being fixed.
import { GROUP, PLURAL, VERSION } from '../api/constants.ts';
import { PODS_PATH, POLICIES_PATH } from './handler.ts';

export const WEBHOOK_CONFIGURATION = 'deployguard';
export const WEBHOOK_TIMEOUT_SECONDS = 3;

/** Where the API server reaches the webhook. */
export type WebhookTarget =
  { url: string } | { service: { namespace: string; name: string; port: number } };

export interface WebhookConfigurationInput {
  target: WebhookTarget;
  caBundle: string;
  /** Namespaces the pod webhook never sees: the operator's own, kube-system, the literal floor. */
  excludedNamespaces: readonly string[];
}

const ALL = ['CREATE', 'UPDATE'];

export function webhookConfiguration(i: WebhookConfigurationInput): Record<string, unknown> {
  const caBundle = Buffer.from(i.caBundle, 'utf8').toString('base64');
  const clientConfig = (path: string): Record<string, unknown> =>
    'url' in i.target
      ? { url: `${i.target.url.replace(/\/$/, '')}${path}`, caBundle }
      : { service: { ...i.target.service, path }, caBundle };
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Ignore',
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    matchPolicy: 'Equivalent',
  };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: {
      name: WEBHOOK_CONFIGURATION,
      labels: { 'app.kubernetes.io/managed-by': 'deployguard' },
    },
    webhooks: [
      {
        name: `workloads.${GROUP}`,
        ...common,
        clientConfig: clientConfig(PODS_PATH),
        namespaceSelector: {
          matchExpressions: [
            {
              key: 'kubernetes.io/metadata.name',
              operator: 'NotIn',
              values: [...new Set(i.excludedNamespaces)].sort(),
            },
          ],
        },
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ALL,
            resources: ['pods', 'pods/ephemeralcontainers', 'replicationcontrollers'],
            scope: 'Namespaced',
          },
          {
            apiGroups: ['apps'],
            apiVersions: ['v1'],
            operations: ALL,
            resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'],
            scope: 'Namespaced',
          },
          {
            apiGroups: ['batch'],
            apiVersions: ['v1'],
            operations: ALL,
            resources: ['jobs', 'cronjobs'],
            scope: 'Namespaced',
          },
        ],
      },
      {
        name: `policies.${GROUP}`,
        ...common,
        clientConfig: clientConfig(POLICIES_PATH),
        rules: [
          {
            apiGroups: [GROUP],
            apiVersions: [VERSION],
            operations: ALL,
            resources: [PLURAL],
            scope: 'Cluster',
          },
        ],
      },
    ],
  };
}
