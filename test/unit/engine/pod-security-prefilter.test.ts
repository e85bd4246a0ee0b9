// The Pod Security prefilter skips checks it proves can find nothing: on any pod, at any level,
// minor and exemptions, the findings with it must be exactly those without it, in the same order.
import { expect } from 'chai';
import fc from 'fast-check';
import {
  podSecurityInto,
  preparePodSecurity,
} from '../../../src/engine/rules/pod-security/index.ts';
import type { PodSecurityRule } from '../../../src/api/policy.ts';
import type { Finding } from '../../../src/engine/violation.ts';
import { view } from '../builders.ts';

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const bool = maybe(fc.boolean());
const profile = maybe(
  fc.record({ type: maybe(fc.constantFrom('RuntimeDefault', 'Localhost', 'Unconfined', '')) }),
);
const handler = maybe(
  fc.record({
    httpGet: maybe(
      fc.record({ host: maybe(fc.constantFrom('', '10.0.0.1')), port: fc.constant(80) }),
    ),
    tcpSocket: maybe(fc.record({ host: maybe(fc.constantFrom('', 'evil')) })),
    exec: maybe(fc.record({ command: fc.constant(['true']) })),
  }),
);
const securityContext = maybe(
  fc.record(
    {
      privileged: bool,
      allowPrivilegeEscalation: bool,
      runAsNonRoot: bool,
      runAsUser: maybe(fc.constantFrom(0, 1000)),
      procMount: maybe(fc.constantFrom('Default', 'Unmasked')),
      capabilities: maybe(
        fc.record({
          add: maybe(fc.subarray(['NET_BIND_SERVICE', 'CHOWN', 'SYS_ADMIN'])),
          drop: maybe(fc.subarray(['ALL', 'NET_RAW'])),
        }),
      ),
      seccompProfile: profile,
      appArmorProfile: profile,
      seLinuxOptions: maybe(
        fc.record({
          type: maybe(fc.constantFrom('container_t', 'spc_t')),
          user: maybe(fc.constant('u')),
        }),
      ),
      windowsOptions: maybe(fc.record({ hostProcess: bool })),
    },
    { requiredKeys: [] },
  ),
);
const container = fc.record({
  name: fc.constantFrom('app', 'side', 'app'),
  image: fc.constant('registry.example.com/app:1'),
  securityContext,
  ports: maybe(
    fc.array(
      fc.record({ containerPort: fc.constant(80), hostPort: maybe(fc.constantFrom(0, 8080)) }),
      { maxLength: 2 },
    ),
  ),
  livenessProbe: handler,
  lifecycle: maybe(fc.record({ postStart: handler, preStop: handler })),
});
const annotations = fc.dictionary(
  fc.constantFrom(
    'prometheus.io/scrape',
    'container.apparmor.security.beta.kubernetes.io/app',
    'seccomp.security.alpha.kubernetes.io/pod',
    'container.seccomp.security.alpha.kubernetes.io/side',
  ),
  fc.constantFrom('', 'unconfined', 'runtime/default', 'localhost/x'),
);
const pod = fc.record({
  annotations,
  spec: fc.record(
    {
      containers: fc.array(container, { minLength: 1, maxLength: 3 }),
      initContainers: fc.array(container, { maxLength: 2 }),
      hostPID: bool,
      hostUsers: bool,
      os: maybe(fc.record({ name: fc.constantFrom('linux', 'windows') })),
      securityContext: maybe(
        fc.record(
          {
            runAsNonRoot: bool,
            runAsUser: maybe(fc.constantFrom(0, 1000)),
            seccompProfile: profile,
            appArmorProfile: profile,
            seLinuxOptions: maybe(
              fc.record({ type: maybe(fc.constantFrom('container_t', 'spc_t')) }),
            ),
            windowsOptions: maybe(fc.record({ hostProcess: bool })),
            sysctls: maybe(fc.constant([{ name: 'kernel.msgmax', value: '1' }])),
          },
          { requiredKeys: [] },
        ),
      ),
      volumes: maybe(fc.constant([{ name: 'h', hostPath: { path: '/' } }])),
    },
    { requiredKeys: ['containers'] },
  ),
});
const rule = fc.record({
  level: fc.constantFrom('baseline', 'restricted'),
  version: fc.constantFrom(
    'latest',
    'v1.0',
    'v1.18',
    'v1.19',
    'v1.22',
    'v1.25',
    'v1.31',
    'v1.34',
    'v1.35',
  ),
  exemptChecks: fc.subarray([
    'capabilities_restricted',
    'runAsNonRoot',
    'seccompProfile_restricted',
  ]),
});

function findings(p: unknown, r: PodSecurityRule, prefilter: boolean): Finding[] {
  const out: Finding[] = [];
  podSecurityInto(view(p), preparePodSecurity(r), out, prefilter);
  return out;
}

describe('engine/pod-security prefilter', () => {
  it('gives exactly the findings of running every check, in order', () => {
    fc.assert(
      fc.property(pod, rule, (p, r) => {
        const raw = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p', namespace: 'default', annotations: p.annotations },
          spec: p.spec,
        };
        const rr = r as PodSecurityRule;
        expect(findings(raw, rr, true)).to.deep.equal(findings(raw, rr, false));
      }),
      { numRuns: 3000 },
    );
  });

  it('skips nothing it should not on a compliant restricted pod made non-compliant one field at a time', () => {
    const secure = {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    };
    const r = {
      level: 'restricted',
      version: 'latest',
      exemptChecks: [],
    } as unknown as PodSecurityRule;
    const base = (sc: object) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default' },
      spec: { containers: [{ name: 'a', image: 'x:1', securityContext: { ...secure, ...sc } }] },
    });
    expect(findings(base({}), r, true)).to.deep.equal([]);
    for (const sc of [
      { privileged: true },
      { runAsUser: 0 },
      { procMount: 'Unmasked' },
      { capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } },
      { seccompProfile: { type: 'Unconfined' } },
      { appArmorProfile: { type: 'Unconfined' } },
      { seLinuxOptions: { type: 'spc_t' } },
      { windowsOptions: { hostProcess: true } },
    ]) {
      const got = findings(base(sc), r, true);
      expect(got, JSON.stringify(sc)).to.not.deep.equal([]);
      expect(got).to.deep.equal(findings(base(sc), r, false));
    }
  });
});
