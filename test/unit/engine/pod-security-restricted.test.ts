// The checks that have a restricted side: restricted-only checks, and baseline checks that a
// restricted check replaces (hostPath volumes, capabilities, seccomp, procMount).
import { expect } from 'chai';

import { ctr, pod, rules, run, spec, type Json } from './pod-security-helpers.ts';

describe('pod-security rules: checks with a restricted side', function () {
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
});
