// Differential test against the real API server's Pod Security Admission: pods generated from the
// security-relevant fields (seeded, so every run sends the same pods) go to a 1.36 API server as
// server-side dry runs in namespaces enforcing each level; the engine must admit and refuse exactly
// the pods the server admits and refuses. Upstream's fixtures change one field at a time; these
// combine several, as real pods do.
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import fc from 'fast-check';
import type { PssLevel } from '../../src/api/policy.ts';
import { checkPodSecurity } from '../../src/engine/rules/pod-security/index.ts';
import { sanitizePod } from '../../src/engine/sanitize.ts';
import { freshNamespace, loadKubeConfig } from './cluster.ts';

const SEED = 1610;
const PODS = 150;

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const capability = fc.constantFrom(
  'ALL',
  'NET_BIND_SERVICE',
  'SYS_ADMIN',
  'NET_RAW',
  'CHOWN',
  'KILL',
  'AUDIT_WRITE',
);
const seccomp = fc
  .record({ type: fc.constantFrom('RuntimeDefault', 'Unconfined', 'Localhost') })
  .map((p) => (p.type === 'Localhost' ? { ...p, localhostProfile: 'profiles/audit.json' } : p));
const securityContext = fc.record(
  {
    privileged: maybe(fc.boolean()),
    allowPrivilegeEscalation: maybe(fc.boolean()),
    runAsNonRoot: maybe(fc.boolean()),
    runAsUser: maybe(fc.constantFrom(0, 1000)),
    capabilities: maybe(
      fc.record(
        {
          add: maybe(fc.uniqueArray(capability, { maxLength: 2 })),
          drop: maybe(fc.uniqueArray(capability, { maxLength: 2 })),
        },
        { requiredKeys: [] },
      ),
    ),
    seccompProfile: maybe(seccomp),
    appArmorProfile: maybe(fc.record({ type: fc.constantFrom('RuntimeDefault', 'Unconfined') })),
    seLinuxOptions: maybe(
      fc.record({ type: fc.constantFrom('container_t', 'spc_t', 'container_init_t') }),
    ),
  },
  { requiredKeys: [] },
);
const container = (name: string) =>
  fc.record({
    name: fc.constant(name),
    image: fc.constant('registry.example.com/app:1.0'),
    securityContext: maybe(securityContext),
    ports: maybe(
      fc.constantFrom([{ containerPort: 8080 }], [{ containerPort: 8080, hostPort: 8080 }]),
    ),
  });
const podSpec = fc.record(
  {
    hostNetwork: maybe(fc.boolean()),
    hostPID: maybe(fc.boolean()),
    hostIPC: maybe(fc.boolean()),
    securityContext: maybe(
      fc.record(
        {
          runAsNonRoot: maybe(fc.boolean()),
          runAsUser: maybe(fc.constantFrom(0, 1000)),
          seccompProfile: maybe(seccomp),
          sysctls: maybe(
            fc.constantFrom(
              [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }],
              [{ name: 'kernel.shm_rmid_forced', value: '0' }],
              [{ name: 'net.core.somaxconn', value: '1024' }],
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    volumes: maybe(
      fc.constantFrom(
        [{ name: 'v', emptyDir: {} }],
        [{ name: 'v', hostPath: { path: '/data' } }],
        [{ name: 'v', configMap: { name: 'c' } }],
      ),
    ),
  },
  { requiredKeys: [] },
);
/** `base` with the generated fields that are set laid over it. */
function over(base: object, generated: object | undefined): object {
  const set = Object.entries(generated ?? {}).filter(([, v]) => v !== undefined);
  return { ...base, ...Object.fromEntries(set) };
}

// Half the pods start from a restricted-compliant baseline and change a few fields, so both
// verdicts are common at both levels.
const COMPLIANT_POD = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };
const COMPLIANT_CONTAINER = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
const pods: fc.Arbitrary<V1Pod[]> = fc.array(
  fc
    .tuple(podSpec, container('app'), maybe(container('init')), fc.boolean())
    .map(([spec, app, init, compliant]) => {
      const harden = <T extends { securityContext?: object }>(c: T): T =>
        compliant ? { ...c, securityContext: over(COMPLIANT_CONTAINER, c.securityContext) } : c;
      const podSc = compliant ? over(COMPLIANT_POD, spec.securityContext) : spec.securityContext;
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        // fast-check leaves undefined keys in records; JSON drops them, as the API server would see it.
        spec: JSON.parse(
          JSON.stringify({
            ...spec,
            securityContext: podSc,
            containers: [harden(app)],
            ...(init ? { initContainers: [harden(init)] } : {}),
          }),
        ),
      };
    }),
  { minLength: PODS, maxLength: PODS },
);

for (const level of ['baseline', 'restricted'] as PssLevel[]) {
  describe(`pod-security differential: ${PODS} generated pods, ${level}, engine vs a real 1.36 API server`, function () {
    this.timeout(300_000);
    it('admits and refuses exactly what the API server admits and refuses', async () => {
      const ns = await freshNamespace(`dg-diff-${level}`, {
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/enforce-version': 'latest',
      });
      const api = loadKubeConfig().makeApiClient(CoreV1Api);
      const [sample] = fc.sample(pods, { seed: SEED, numRuns: 1 });
      const disagreements: unknown[] = [];
      const seen = new Set<string>();
      let compared = 0;
      for (let i = 0; i < (sample ?? []).length; i += 10) {
        await Promise.all(
          (sample ?? []).slice(i, i + 10).map(async (pod, j) => {
            const body = { ...pod, metadata: { name: `p${i + j}`, namespace: ns } };
            let server: string;
            try {
              await api.createNamespacedPod({ namespace: ns, body, dryRun: 'All' });
              server = 'admitted';
            } catch (e) {
              const text = String((e as { body?: unknown }).body ?? (e as Error).message);
              // Validation runs before admission: a generated pod the API server finds invalid (a
              // net.* sysctl with hostNetwork, privileged without privilege escalation) can't be compared.
              server = text.includes('violates PodSecurity')
                ? 'refused'
                : text.includes('"reason":"Invalid"')
                  ? 'invalid'
                  : `error: ${text.slice(0, 200)}`;
            }
            const view = sanitizePod(body)?.pod;
            const findings = view
              ? checkPodSecurity(view, { level, version: 'latest', exemptChecks: [] })
              : [];
            const engine = findings.length > 0 ? 'refused' : 'admitted';
            seen.add(server);
            if (server === 'invalid') return;
            compared++;
            if (server !== engine)
              disagreements.push({
                server,
                engine,
                findings: findings.map((f) => f.rule),
                spec: pod.spec,
              });
          }),
        );
      }
      expect(disagreements, JSON.stringify(disagreements.slice(0, 3), null, 1)).to.deep.equal([]);
      expect([...seen].filter((v) => v.startsWith('error'))).to.deep.equal([]);
      expect(seen).to.include('admitted').and.to.include('refused');
      expect(compared, 'most generated pods are valid and so compared').to.be.at.least(PODS / 2);
    });
  });
}
