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
import type { Finding } from '../../../src/engine/violation.ts';

type Json = Record<string, unknown>;

/** A pod from raw JSON, through the same sanitizer the operator uses. */
function pod(spec: Json, annotations: Record<string, string> = {}): PodView {
  const p = sanitizePod({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', annotations },
    spec,
  });
  if (!p) throw new Error('not a pod');
  return p.pod;
}

/** A container that passes every restricted check unless `sc` says otherwise. */
function ctr(name: string, sc: Json = {}, extra: Json = {}): Json {
  return {
    name,
    image: 'registry.example.com/app:1',
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, ...sc },
    ...extra,
  };
}

/** A restricted-clean pod spec with one container, overridable at the top level. */
function spec(over: Json = {}, containers: Json[] = [ctr('app')]): Json {
  return {
    containers,
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    ...over,
  };
}

function run(
  p: PodView,
  level: PssLevel = 'restricted',
  version = 'latest',
  exemptChecks: string[] = [],
) {
  return checkPodSecurity(p, { level, version, exemptChecks });
}

function rules(findings: Finding[]): string[] {
  return [...new Set(findings.map((f) => f.rule))].sort();
}

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

  describe('hostPathVolumes and restrictedVolumes', function () {
    const volumes = [
      { name: 'a', emptyDir: {} },
      { name: 'b' },
      { name: 'host', hostPath: { path: '/' } },
    ];
    it('baseline flags hostPath volumes', function () {
      const f = run(pod(spec({ volumes })), 'baseline');
      expect(f).to.have.length(1);
      expect(f[0]).to.include({ rule: 'pss.hostPathVolumes', path: 'spec.volumes[2].hostPath' });
    });
    it('restricted reports it as restrictedVolumes, which replaces hostPathVolumes', function () {
      const f = run(pod(spec({ volumes })));
      expect(f.map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.restrictedVolumes', 'spec.volumes[2].hostPath'],
      ]);
    });
    it('exempting restrictedVolumes still leaves hostPath forbidden', function () {
      const f = run(pod(spec({ volumes })), 'restricted', 'latest', ['restrictedVolumes']);
      expect(rules(f)).to.deep.equal(['pss.hostPathVolumes']);
    });
    it('restricted flags nfs and unknown volume types, allows the listed ones and a bare volume', function () {
      const p = pod(
        spec({
          volumes: [
            { name: 'n', nfs: { server: 's', path: '/' } },
            { name: 'future', someNewSource: {} },
            { name: 'ok1', projected: { sources: [] } },
            { name: 'ok2', image: { reference: 'x' } },
            { name: 'bare' },
          ],
        }),
      );
      expect(run(p).map((x) => x.path)).to.deep.equal([
        'spec.volumes[0].nfs',
        'spec.volumes[1].someNewSource',
      ]);
      expect(run(p, 'baseline')).to.deep.equal([]);
    });
    it('restricted does not let an allowed source hide a forbidden one (stricter than upstream)', function () {
      const p = pod(
        spec({
          volumes: [{ name: 'v', configMap: { name: 'c' }, nfs: { server: 's', path: '/' } }],
        }),
      );
      expect(run(p).map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.restrictedVolumes', 'spec.volumes[0].nfs'],
      ]);
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

  describe('procMount and procMount_restricted', function () {
    const unmasked = (over: Json = {}) => pod(spec(over, [ctr('app', { procMount: 'Unmasked' })]));
    it('baseline flags Unmasked, allows Default', function () {
      expect(run(unmasked(), 'baseline')[0]).to.include({
        rule: 'pss.procMount',
        path: 'spec.containers[0].securityContext.procMount',
      });
      expect(run(pod(spec({}, [ctr('app', { procMount: 'Default' })])), 'baseline')).to.deep.equal(
        [],
      );
    });
    it('baseline relaxes for hostUsers=false from v1.35, not before', function () {
      expect(run(unmasked({ hostUsers: false }), 'baseline', 'v1.35')).to.deep.equal([]);
      expect(rules(run(unmasked({ hostUsers: false }), 'baseline', 'v1.34'))).to.deep.equal([
        'pss.procMount',
      ]);
    });
    it('restricted keeps forbidding it as procMount_restricted from v1.35', function () {
      expect(rules(run(unmasked({ hostUsers: false }), 'restricted', 'v1.35'))).to.deep.equal([
        'pss.procMount_restricted',
      ]);
      expect(rules(run(unmasked(), 'restricted', 'v1.34'))).to.deep.equal(['pss.procMount']);
    });
  });

  describe('seccompProfile_baseline', function () {
    it('flags Unconfined from v1.19', function () {
      const p = pod(spec({}, [ctr('app', { seccompProfile: { type: 'Unconfined' } })]));
      const f = run(p, 'baseline', 'v1.19');
      expect(f.map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.seccompProfile_baseline', 'spec.containers[0].securityContext.seccompProfile.type'],
      ]);
      expect(run(p, 'baseline', 'v1.18')).to.deep.equal([]);
    });
    it('checks the alpha annotations before v1.19 only, at both levels', function () {
      const p = pod(spec(), {
        'seccomp.security.alpha.kubernetes.io/pod': 'unconfined',
        'container.seccomp.security.alpha.kubernetes.io/app': 'docker/default',
        'container.seccomp.security.alpha.kubernetes.io/absent': 'unconfined',
      });
      const f = run(p, 'baseline', 'v1.18');
      expect(f.map((x) => x.path)).to.deep.equal([
        'metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]',
      ]);
      expect(rules(run(p, 'restricted', 'v1.18'))).to.deep.equal(['pss.seccompProfile_baseline']);
      expect(run(p, 'baseline', 'v1.19')).to.deep.equal([]);
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

  describe('capabilities_baseline and capabilities_restricted', function () {
    const adding = (...add: string[]) =>
      pod(spec({}, [ctr('app', { capabilities: { drop: ['ALL'], add } })]));
    it('baseline flags capabilities beyond the default set', function () {
      const f = run(adding('CHOWN', 'SYS_ADMIN'), 'baseline');
      expect(f.map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.capabilities_baseline', 'spec.containers[0].securityContext.capabilities.add'],
      ]);
      expect(f[0]?.message).to.include('"SYS_ADMIN"').and.not.include('CHOWN');
      expect(run(adding('CHOWN', 'NET_BIND_SERVICE'), 'baseline')).to.deep.equal([]);
    });
    it('restricted requires drop ALL and allows adding only NET_BIND_SERVICE, from v1.22', function () {
      expect(rules(run(adding('CHOWN')))).to.deep.equal(['pss.capabilities_restricted']);
      expect(run(adding('NET_BIND_SERVICE'))).to.deep.equal([]);
      const noDrop = pod(spec({}, [ctr('app', { capabilities: {} })]));
      expect(run(noDrop).map((x) => x.path)).to.deep.equal([
        'spec.containers[0].securityContext.capabilities.drop',
      ]);
      expect(run(noDrop, 'restricted', 'v1.21')).to.deep.equal([]);
      expect(rules(run(adding('SYS_ADMIN'), 'restricted', 'v1.21'))).to.deep.equal([
        'pss.capabilities_baseline',
      ]);
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

  describe('allowPrivilegeEscalation', function () {
    const loose = pod(
      spec({}, [
        ctr('app', { allowPrivilegeEscalation: undefined }),
        ctr('b', { allowPrivilegeEscalation: true }),
      ]),
    );
    it('requires an explicit false on every container', function () {
      expect(run(loose).map((x) => x.path)).to.deep.equal([
        'spec.containers[0].securityContext.allowPrivilegeEscalation',
        'spec.containers[1].securityContext.allowPrivilegeEscalation',
      ]);
    });
    it('starts at v1.8', function () {
      expect(rules(run(loose, 'restricted', 'v1.8'))).to.deep.equal([
        'pss.allowPrivilegeEscalation',
      ]);
      expect(run(loose, 'restricted', 'v1.7')).to.deep.equal([]);
    });
  });

  describe('spec.os.name: windows', function () {
    const win = pod({
      os: { name: 'windows' },
      securityContext: { runAsNonRoot: true },
      containers: [{ name: 'w', image: 'x' }],
    });
    it('exempts Windows pods from allowPrivilegeEscalation, seccomp and capabilities from v1.25', function () {
      expect(run(win, 'restricted', 'v1.25')).to.deep.equal([]);
      expect(rules(run(win, 'restricted', 'v1.24'))).to.deep.equal([
        'pss.allowPrivilegeEscalation',
        'pss.capabilities_restricted',
        'pss.seccompProfile_restricted',
      ]);
    });
    it('does not exempt them from runAsNonRoot', function () {
      const rootWin = pod({ os: { name: 'windows' }, containers: [{ name: 'w', image: 'x' }] });
      expect(rules(run(rootWin))).to.deep.equal(['pss.runAsNonRoot']);
    });
  });

  describe('runAsNonRoot', function () {
    it('inherits a pod-level true; a container false overrides it', function () {
      const p = pod(spec({}, [ctr('a'), ctr('b', { runAsNonRoot: false })]));
      expect(run(p).map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.runAsNonRoot', 'spec.containers[1].securityContext.runAsNonRoot'],
      ]);
    });
    it('flags a pod-level false and containers left unset without a pod-level true', function () {
      const p = pod({
        securityContext: { runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } },
        initContainers: [ctr('i')],
        containers: [ctr('a', { runAsNonRoot: true })],
      });
      expect(run(p).map((x) => x.path)).to.deep.equal([
        'spec.securityContext.runAsNonRoot',
        'spec.initContainers[0].securityContext.runAsNonRoot',
      ]);
    });
    it('relaxes for hostUsers=false from v1.35', function () {
      const p = pod({
        hostUsers: false,
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        containers: [ctr('a')],
      });
      expect(run(p, 'restricted', 'v1.35')).to.deep.equal([]);
      expect(rules(run(p, 'restricted', 'v1.34'))).to.deep.equal(['pss.runAsNonRoot']);
    });
  });

  describe('runAsUser', function () {
    const root = pod(
      spec(
        {
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 0,
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
        [ctr('a', { runAsUser: 0 }), ctr('b', { runAsUser: 1000 })],
      ),
    );
    it('flags runAsUser=0 at pod and container level from v1.23', function () {
      expect(run(root).map((x) => [x.rule, x.path])).to.deep.equal([
        ['pss.runAsUser', 'spec.securityContext.runAsUser'],
        ['pss.runAsUser', 'spec.containers[0].securityContext.runAsUser'],
      ]);
      expect(run(root, 'restricted', 'v1.22')).to.deep.equal([]);
    });
    it('relaxes for hostUsers=false from v1.35', function () {
      const p = pod({
        hostUsers: false,
        securityContext: { runAsUser: 0, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [ctr('a')],
      });
      expect(run(p, 'restricted', 'v1.35')).to.deep.equal([]);
      expect(rules(run(p, 'restricted', 'v1.34'))).to.deep.equal([
        'pss.runAsNonRoot',
        'pss.runAsUser',
      ]);
    });
  });

  describe('seccompProfile_restricted', function () {
    it('accepts a pod-level profile for containers without their own', function () {
      expect(
        run(
          pod(
            spec({}, [
              ctr('a'),
              ctr('b', { seccompProfile: { type: 'Localhost', localhostProfile: 'p' } }),
            ]),
          ),
        ),
      ).to.deep.equal([]);
    });
    it('requires a profile on each container when the pod has none', function () {
      const p = pod({
        securityContext: { runAsNonRoot: true },
        containers: [ctr('a'), ctr('b', { seccompProfile: { type: 'RuntimeDefault' } })],
      });
      expect(run(p).map((x) => [x.rule, x.container, x.path])).to.deep.equal([
        [
          'pss.seccompProfile_restricted',
          'a',
          'spec.containers[0].securityContext.seccompProfile.type',
        ],
      ]);
      expect(run(p, 'restricted', 'v1.18')).to.deep.equal([]);
    });
    it('flags Unconfined under its own ID, replacing seccompProfile_baseline', function () {
      const p = pod(spec({}, [ctr('a', { seccompProfile: { type: 'Unconfined' } })]));
      expect(rules(run(p))).to.deep.equal(['pss.seccompProfile_restricted']);
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
