import { expect } from 'chai';
import fc from 'fast-check';
import type { PodSecurityRule, PssLevel } from '../../../src/api/policy.ts';
import type { PodView } from '../../../src/engine/pod.ts';
import {
  checkPodSecurity,
  LATEST_PSS_MINOR,
  parsePssVersion,
  PSS_CHECK_IDS,
} from '../../../src/engine/rules/pod-security/index.ts';
import { sanitizePod } from '../../../src/engine/sanitize.ts';

import { ctr, pod, rules, run, spec } from './pod-security-helpers.ts';

describe('pod-security rules', function () {
  describe('PSS_CHECK_IDS', function () {
    it('lists the 19 upstream checks once each', function () {
      expect(PSS_CHECK_IDS).to.have.length(19);
      expect(new Set(PSS_CHECK_IDS).size).to.equal(19);
      expect(PSS_CHECK_IDS).to.include.members([
        'privileged',
        'procMount_restricted',
        'hostProbesAndHostLifecycle',
      ]);
    });
  });

  describe('parsePssVersion', function () {
    it('maps latest to the newest minor implemented', function () {
      expect(parsePssVersion('latest')).to.deep.equal({ minor: LATEST_PSS_MINOR });
      expect(LATEST_PSS_MINOR).to.equal(36);
    });
    it('accepts v1.0 to v1.36', function () {
      expect(parsePssVersion('v1.0')).to.deep.equal({ minor: 0 });
      expect(parsePssVersion('v1.25')).to.deep.equal({ minor: 25 });
      expect(parsePssVersion('v1.36')).to.deep.equal({ minor: 36 });
    });
    for (const bad of [
      'v1.37',
      '1.25',
      'v1.025',
      'v2.0',
      'v1',
      'V1.25',
      'v1.25.0',
      '',
      ' latest',
      'v1.-1',
    ]) {
      it(`refuses ${JSON.stringify(bad)} with a message naming the accepted forms`, function () {
        const r = parsePssVersion(bad);
        expect(r).to.have.property('error').that.includes('"latest"').and.includes('v1.N');
      });
    }
  });

  it('a restricted-clean pod passes at every level and version', function () {
    for (let m = 0; m <= LATEST_PSS_MINOR; m++) {
      expect(run(pod(spec()), 'restricted', `v1.${m}`), `v1.${m}`).to.deep.equal([]);
      expect(run(pod(spec()), 'baseline', `v1.${m}`), `v1.${m}`).to.deep.equal([]);
    }
  });

  it('baseline does not report restricted-only checks', function () {
    const f = run(pod({ containers: [{ name: 'app', image: 'x' }] }), 'baseline');
    expect(f).to.deep.equal([]);
    expect(rules(run(pod({ containers: [{ name: 'app', image: 'x' }] })))).to.deep.equal([
      'pss.allowPrivilegeEscalation',
      'pss.capabilities_restricted',
      'pss.runAsNonRoot',
      'pss.seccompProfile_restricted',
    ]);
  });

  describe('privileged', function () {
    it('flags privileged=true in any container group, with path and name', function () {
      const p = pod(spec({ ephemeralContainers: [ctr('debug', { privileged: true })] }));
      expect(run(p, 'baseline')).to.deep.equal([
        {
          rule: 'pss.privileged',
          container: 'debug',
          path: 'spec.ephemeralContainers[0].securityContext.privileged',
          message: 'container "debug" must not set securityContext.privileged=true',
        },
      ]);
    });
    it('allows privileged=false', function () {
      expect(run(pod(spec({}, [ctr('app', { privileged: false })])), 'baseline')).to.deep.equal([]);
    });
  });

  describe('hostNamespaces', function () {
    it('flags each shared host namespace', function () {
      const f = run(pod(spec({ hostNetwork: true, hostIPC: true, hostPID: false })), 'baseline');
      expect(f.map((x) => x.path)).to.deep.equal(['spec.hostNetwork', 'spec.hostIPC']);
      expect(rules(f)).to.deep.equal(['pss.hostNamespaces']);
    });
  });

  describe('hostPorts', function () {
    it('flags a non-zero hostPort with the port path', function () {
      const c = ctr(
        'web',
        {},
        { ports: [{ containerPort: 80 }, { containerPort: 80, hostPort: 8080 }] },
      );
      const f = run(pod(spec({}, [c])), 'baseline');
      expect(f.map((x) => [x.rule, x.container, x.path])).to.deep.equal([
        ['pss.hostPorts', 'web', 'spec.containers[0].ports[1].hostPort'],
      ]);
    });
    it('allows hostPort 0', function () {
      const c = ctr('web', {}, { ports: [{ containerPort: 80, hostPort: 0 }] });
      expect(run(pod(spec({}, [c])), 'baseline')).to.deep.equal([]);
    });
  });

  describe('appArmorProfile', function () {
    const key = 'container.apparmor.security.beta.kubernetes.io/app';
    it('flags an unconfined annotation', function () {
      const f = run(pod(spec(), { [key]: 'unconfined' }), 'baseline');
      expect(f.map((x) => [x.rule, x.path, x.container])).to.deep.equal([
        ['pss.appArmorProfile', `metadata.annotations[${key}]`, 'app'],
      ]);
    });
    it('allows runtime/default and localhost/* annotations', function () {
      expect(run(pod(spec(), { [key]: 'localhost/mine' }), 'baseline')).to.deep.equal([]);
      expect(run(pod(spec(), { [key]: 'runtime/default' }), 'baseline')).to.deep.equal([]);
    });
    it('flags Unconfined and a missing type in the field, at pod and container level', function () {
      const p = pod(
        spec({ securityContext: { appArmorProfile: { type: 'Unconfined' } } }, [
          ctr('app', { appArmorProfile: {} }),
        ]),
      );
      expect(run(p, 'baseline').map((x) => x.path)).to.deep.equal([
        'spec.securityContext.appArmorProfile.type',
        'spec.containers[0].securityContext.appArmorProfile.type',
      ]);
    });
    it('allows RuntimeDefault and Localhost', function () {
      const p = pod(
        spec({ securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } }, [
          ctr('app', { appArmorProfile: { type: 'Localhost', localhostProfile: 'x' } }),
        ]),
      );
      expect(run(p, 'baseline')).to.deep.equal([]);
    });
  });

  describe('seLinuxOptions', function () {
    it('flags a forbidden type, a user and a role', function () {
      const p = pod(
        spec({ securityContext: { seLinuxOptions: { type: 'spc_t', user: 'u', role: 'r' } } }),
      );
      expect(run(p, 'baseline').map((x) => x.path)).to.deep.equal([
        'spec.securityContext.seLinuxOptions.type',
        'spec.securityContext.seLinuxOptions.user',
        'spec.securityContext.seLinuxOptions.role',
      ]);
    });
    it('allows container_engine_t from v1.31 only', function () {
      const p = pod(
        spec({}, [ctr('app', { seLinuxOptions: { type: 'container_engine_t', level: 's0' } })]),
      );
      expect(rules(run(p, 'baseline', 'v1.30'))).to.deep.equal(['pss.seLinuxOptions']);
      expect(run(p, 'baseline', 'v1.31')).to.deep.equal([]);
    });
  });

  describe('sysctls', function () {
    const withSysctls = (...names: string[]) =>
      pod(
        spec({
          securityContext: {
            runAsNonRoot: true,
            seccompProfile: { type: 'RuntimeDefault' },
            sysctls: names.map((name) => ({ name, value: '1' })),
          },
        }),
      );
    it('flags an unsafe sysctl', function () {
      const f = run(withSysctls('kernel.shm_rmid_forced', 'kernel.msgmax'), 'baseline');
      expect(f.map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.sysctls', 'spec.securityContext.sysctls[1].name'],
      ]);
    });
    it('grows the allowed list by minor', function () {
      const reserved = withSysctls('net.ipv4.ip_local_reserved_ports');
      expect(run(reserved, 'baseline', 'v1.26')).to.have.length(1);
      expect(run(reserved, 'baseline', 'v1.27')).to.deep.equal([]);
      const keepalive = withSysctls('net.ipv4.tcp_keepalive_time');
      expect(run(keepalive, 'baseline', 'v1.28')).to.have.length(1);
      expect(run(keepalive, 'baseline', 'v1.29')).to.deep.equal([]);
      const rmem = withSysctls('net.ipv4.tcp_rmem');
      expect(run(rmem, 'baseline', 'v1.31')).to.have.length(1);
      expect(run(rmem, 'baseline', 'v1.32')).to.deep.equal([]);
    });
  });

  describe('windowsHostProcess', function () {
    it('flags hostProcess=true at pod and container level', function () {
      const p = pod(
        spec({ securityContext: { windowsOptions: { hostProcess: true } } }, [
          ctr('app', { windowsOptions: { hostProcess: true } }),
        ]),
      );
      expect(run(p, 'baseline').map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.windowsHostProcess', 'spec.securityContext.windowsOptions.hostProcess'],
        ['pss.windowsHostProcess', 'spec.containers[0].securityContext.windowsOptions.hostProcess'],
      ]);
    });
    it('allows hostProcess=false', function () {
      expect(
        run(pod(spec({}, [ctr('app', { windowsOptions: { hostProcess: false } })])), 'baseline'),
      ).to.deep.equal([]);
    });
  });

  describe('hostProbesAndHostLifecycle', function () {
    const probing = ctr(
      'app',
      {},
      {
        livenessProbe: { httpGet: { host: '169.254.169.254', path: '/', port: 80 } },
        lifecycle: { preStop: { tcpSocket: { host: '10.0.0.1', port: 22 } } },
        readinessProbe: { httpGet: { host: '', port: 80 } },
      },
    );
    it('flags probe and lifecycle hosts from v1.34', function () {
      const f = run(pod(spec({}, [probing])), 'baseline', 'v1.34');
      expect(f.map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.hostProbesAndHostLifecycle', 'spec.containers[0].livenessProbe.httpGet.host'],
        ['pss.hostProbesAndHostLifecycle', 'spec.containers[0].lifecycle.preStop.tcpSocket.host'],
      ]);
    });
    it('does not exist before v1.34', function () {
      expect(run(pod(spec({}, [probing])), 'baseline', 'v1.33')).to.deep.equal([]);
    });
  });

  describe('exemptChecks', function () {
    it('skips the exempted checks only', function () {
      const p = pod(spec({ hostNetwork: true }, [ctr('a', { privileged: true })]));
      expect(rules(run(p, 'baseline'))).to.deep.equal(['pss.hostNamespaces', 'pss.privileged']);
      expect(rules(run(p, 'baseline', 'latest', ['privileged']))).to.deep.equal([
        'pss.hostNamespaces',
      ]);
      expect(run(p, 'baseline', 'latest', ['privileged', 'hostNamespaces'])).to.deep.equal([]);
    });
    it('exempting a restricted check that overrides a baseline one brings the baseline one back', function () {
      const p = pod(spec({}, [ctr('a', { capabilities: { add: ['SYS_ADMIN'] } })]));
      expect(rules(run(p, 'restricted', 'latest', ['capabilities_restricted']))).to.deep.equal([
        'pss.capabilities_baseline',
      ]);
    });
  });

  describe('version pinning', function () {
    it('judges by the pinned minor and treats latest as v1.36', function () {
      const p = pod(spec({}, [ctr('a', { seLinuxOptions: { type: 'container_engine_t' } })]));
      expect(run(p, 'baseline', 'v1.30')).to.have.length(1);
      expect(run(p, 'baseline', 'latest')).to.deep.equal(run(p, 'baseline', 'v1.36'));
    });
    it('falls back to latest for a version the policy parser should have refused', function () {
      const p = pod(spec({}, [ctr('a', { privileged: true })]));
      expect(run(p, 'baseline', 'nonsense')).to.deep.equal(run(p, 'baseline', 'latest'));
    });
  });

  describe('hostile input', function () {
    it('never throws on arbitrary JSON run through the sanitizer', function () {
      const field = fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true });
      const rawPod = fc.record({
        kind: fc.constantFrom('Pod', 'Deployment', 'CronJob'),
        metadata: fc.oneof(
          field,
          fc.record({ annotations: fc.dictionary(fc.string(), fc.oneof(fc.string(), field)) }),
        ),
        spec: fc.oneof(
          field,
          fc.record({
            containers: fc.array(
              fc.oneof(
                field,
                fc.record({
                  name: field,
                  securityContext: field,
                  ports: field,
                  livenessProbe: field,
                }),
              ),
            ),
            initContainers: field,
            volumes: fc.array(fc.oneof(field, fc.dictionary(fc.string(), field))),
            securityContext: fc.oneof(
              field,
              fc.record({ sysctls: field, seccompProfile: field, runAsUser: field }),
            ),
            hostUsers: field,
            os: field,
          }),
        ),
      });
      fc.assert(
        fc.property(
          rawPod,
          fc.constantFrom<PssLevel>('baseline', 'restricted'),
          fc.integer({ min: 0, max: 36 }),
          (raw, level, minor) => {
            const p = sanitizePod(raw)?.pod;
            if (!p) return;
            for (const f of checkPodSecurity(p, {
              level,
              version: `v1.${minor}`,
              exemptChecks: [],
            })) {
              expect(f.rule).to.match(/^pss\./);
              expect(PSS_CHECK_IDS).to.include(f.rule.slice(4));
              expect(f.path).to.be.a('string');
              expect(f.message).to.be.a('string');
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('never throws on a malformed PodView, and fails closed', function () {
      const rule: PodSecurityRule = { level: 'restricted', version: 'latest', exemptChecks: [] };
      const junk: unknown[] = [
        {},
        { spec: {} },
        { spec: null, metadata: null },
        {
          metadata: { annotations: null },
          spec: { containers: [null], initContainers: 'x', ephemeralContainers: [] },
        },
        {
          metadata: { annotations: {} },
          spec: {
            containers: [{ securityContext: { capabilities: { add: 'ALL' } } }],
            initContainers: [],
            ephemeralContainers: [],
            volumes: [{}],
          },
        },
      ];
      for (const j of junk) {
        const f = checkPodSecurity(j as PodView, rule);
        expect(f).to.be.an('array');
        // A pod the checks can't read is not a clean pod.
        if (j && Object.keys(j).length === 0) expect(f).to.have.length.above(0);
      }
    });

    it('bounds attacker-sized values in messages', function () {
      const huge = 'x'.repeat(60_000);
      const p = pod(spec(), { 'container.apparmor.security.beta.kubernetes.io/app': huge });
      const f = run(p, 'baseline');
      expect(f).to.have.length(1);
      expect(f[0]!.message.length).to.be.below(1000);
    });
  });
});
