// One block per rule family that lives outside pod-security/indicators/commands (those have their own
// files): a failing and a passing case for each rule ID, through the real evaluate().
import { expect } from 'chai';
import { evaluate } from '../../../src/engine/evaluate.ts';
import { compiled, podJson, view, type Json } from '../builders.ts';

const NOW = new Date('2026-11-25T10:00:00Z'); // a Wednesday

function rules(spec: Json, pod: Json, now = NOW, trustCreationTimestamp = true): string[] {
  const ctx = { namespaceLabels: {}, now, trustCreationTimestamp };
  return evaluate(view(pod), [compiled(spec)], ctx).violations.map((v) => v.rule);
}

describe('rule: images', () => {
  const spec = {
    rules: {
      images: {
        allowedRegistries: ['registry.example.com/', 'docker.io/library/'],
        deniedImages: ['*xmrig*', '*/kinsing*'],
        requireDigest: true,
        disallowLatestTag: true,
      },
    },
  };
  const img = (image: string) => podJson({ containers: [{ name: 'c', image }] });
  const digest = '@sha256:' + 'a'.repeat(64);

  it('image.registry: outside the allow-list fails, inside passes', () => {
    expect(rules(spec, img('quay.io/x/y:1' + digest))).to.include('image.registry');
    expect(rules(spec, img('docker.io/attacker/nginx:1' + digest))).to.include('image.registry');
    expect(rules(spec, img('nginx:1' + digest))).to.not.include('image.registry');
    expect(rules(spec, img('registry.example.com/app:1' + digest))).to.deep.equal([]);
  });
  it('image.registry: prefixes are normalised like references (host case, Hub aliases)', () => {
    const aliased = {
      rules: {
        images: { allowedRegistries: ['Index.Docker.io/library/', 'REGISTRY.example.com'] },
      },
    };
    expect(rules(aliased, img('nginx:1' + digest))).to.deep.equal([]);
    expect(rules(aliased, img('registry.example.com/app:1'))).to.deep.equal([]);
    expect(rules(aliased, img('quay.io/app:1'))).to.deep.equal(['image.registry']);
  });
  it('image.denied: a registry host in capitals is the same host', () => {
    const deny = { rules: { images: { deniedImages: ['evil.io/*'], disallowLatestTag: false } } };
    expect(rules(deny, img('EVIL.io/miner:1'))).to.deep.equal(['image.denied']);
  });
  it('image.denied: globs on the normalised reference', () => {
    expect(rules(spec, img('docker.io/library/xmrig:6' + digest))).to.include('image.denied');
    expect(rules(spec, img('kinsing:1' + digest))).to.include('image.denied');
    expect(rules(spec, img('nginx:1' + digest))).to.not.include('image.denied');
  });
  it('image.latestTag: missing or latest, unless pinned by digest', () => {
    expect(rules(spec, img('nginx'))).to.include('image.latestTag');
    expect(rules(spec, img('nginx:latest'))).to.include('image.latestTag');
    expect(rules(spec, img('nginx:1.27'))).to.not.include('image.latestTag');
    expect(rules(spec, img('nginx' + digest))).to.not.include('image.latestTag');
  });
  it('image.digest: only with requireDigest', () => {
    expect(rules(spec, img('nginx:1.27'))).to.include('image.digest');
    expect(rules(spec, img('nginx:1.27' + digest))).to.not.include('image.digest');
    expect(rules({ rules: { images: { requireDigest: false } } }, img('nginx:1.27'))).to.deep.equal(
      [],
    );
  });
  it('judges init and ephemeral containers too, with their paths', () => {
    const pod = podJson({
      containers: [{ name: 'ok', image: 'nginx:1' + digest }],
      initContainers: [{ name: 'init', image: 'quay.io/x:1' + digest }],
      ephemeralContainers: [{ name: 'dbg', image: 'quay.io/y:1' + digest }],
    });
    const v = evaluate(view(pod), [compiled(spec)], { namespaceLabels: {}, now: NOW }).violations;
    expect(v.map((x) => x.path)).to.have.members([
      'spec.initContainers[0].image',
      'spec.ephemeralContainers[0].image',
    ]);
    expect(v.map((x) => x.container)).to.have.members(['init', 'dbg']);
  });
});

describe('rule: hostPath.sensitive', () => {
  const spec = { rules: { hostPaths: { denySensitive: true, denied: ['/opt/secrets'] } } };
  const vol = (path: string) => podJson({ volumes: [{ name: 'v', hostPath: { path } }] });
  for (const p of [
    '/',
    '/proc',
    '/etc/kubernetes/pki',
    '/var/run/docker.sock',
    '/run/containerd/containerd.sock',
    '/var/lib/kubelet/pods',
    '/var',
    '/run',
    '/opt/secrets/db',
    '/opt',
    '//etc//',
    '/tmp/../etc',
    '/home/user',
    '/sys/fs/cgroup',
    '/boot',
    '/var/lib/docker/overlay2',
    '/var/lib/containerd',
    '/run/k3s/containerd/containerd.sock',
  ]) {
    it(`fails for ${p}`, () => expect(rules(spec, vol(p))).to.deep.equal(['hostPath.sensitive']));
  }
  for (const p of [
    '/data',
    '/var/log/app',
    '/etcetera',
    '/opt/app',
    '/mnt/disks/ssd0',
    '/dev/shm',
  ]) {
    it(`passes for ${p}`, () => expect(rules(spec, vol(p))).to.deep.equal([]));
  }
  it('always flags / even when denySensitive is off', () => {
    expect(rules({ rules: { hostPaths: { denySensitive: false } } }, vol('/'))).to.deep.equal([
      'hostPath.sensitive',
    ]);
    expect(rules({ rules: { hostPaths: { denySensitive: false } } }, vol('/etc'))).to.deep.equal(
      [],
    );
  });
});

describe('rule: scheduling', () => {
  const spec = { rules: { scheduling: {} } };
  it('scheduling.nodeName: a creator-set nodeName fails; one set through binding passes', () => {
    expect(rules(spec, podJson({ nodeName: 'worker-1' }))).to.deep.equal(['scheduling.nodeName']);
    const bound = podJson(
      { nodeName: 'worker-1' },
      {
        managedFields: [
          {
            manager: 'kubectl',
            operation: 'Update',
            fieldsV1: { 'f:spec': { 'f:containers': {} } },
          },
        ],
      },
    );
    expect(rules(spec, bound)).to.deep.equal([]);
    const created = podJson(
      { nodeName: 'worker-1' },
      {
        managedFields: [
          { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { 'f:nodeName': {} } } },
        ],
      },
    );
    expect(rules(spec, created)).to.deep.equal(['scheduling.nodeName']);
  });
  it('scheduling.nodeName: an exported controller-owned pod (no managedFields) is not a creator pin', () => {
    const owner = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: 'rs',
      uid: 'u',
      controller: true,
    };
    expect(
      rules(spec, podJson({ nodeName: 'n1' }, { uid: 'x', ownerReferences: [owner] })),
    ).to.deep.equal([]);
    expect(rules(spec, podJson({ nodeName: 'n1' }, { uid: 'x' }))).to.deep.equal([
      'scheduling.nodeName',
    ]);
    expect(rules(spec, podJson({ nodeName: 'n1' }, { ownerReferences: [owner] }))).to.deep.equal([
      'scheduling.nodeName',
    ]);
  });
  it('scheduling.hostnameSelector: nodeSelector or required affinity on the hostname', () => {
    expect(
      rules(spec, podJson({ nodeSelector: { 'kubernetes.io/hostname': 'n1' } })),
    ).to.deep.equal(['scheduling.hostnameSelector']);
    expect(rules(spec, podJson({ nodeSelector: { disktype: 'ssd' } }))).to.deep.equal([]);
    const affinity = (matchExpressions: Json[], matchFields: Json[] = []) => ({
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions, matchFields }],
          },
        },
      },
    });
    expect(
      rules(
        spec,
        podJson(affinity([{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }])),
      ),
    ).to.deep.equal(['scheduling.hostnameSelector']);
    expect(
      rules(
        spec,
        podJson(affinity([{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }])),
      ),
    ).to.deep.equal([]);
    expect(
      rules(
        spec,
        podJson(affinity([], [{ key: 'metadata.name', operator: 'In', values: ['n1'] }])),
      ),
    ).to.deep.equal(['scheduling.hostnameSelector']);
  });
  it('leaves the DaemonSet controller its own per-node pin', () => {
    const ds = podJson(
      {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
              ],
            },
          },
        },
      },
      {
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'd', uid: 'u', controller: true },
        ],
      },
    );
    expect(rules(spec, ds)).to.deep.equal([]);
  });
  it('scheduling.controlPlaneToleration: control-plane keys and the tolerate-all wildcard', () => {
    expect(
      rules(
        spec,
        podJson({
          tolerations: [
            {
              key: 'node-role.kubernetes.io/control-plane',
              operator: 'Exists',
              effect: 'NoSchedule',
            },
          ],
        }),
      ),
    ).to.deep.equal(['scheduling.controlPlaneToleration']);
    expect(
      rules(
        spec,
        podJson({ tolerations: [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }] }),
      ),
    ).to.deep.equal(['scheduling.controlPlaneToleration']);
    expect(rules(spec, podJson({ tolerations: [{ operator: 'Exists' }] }))).to.deep.equal([
      'scheduling.controlPlaneToleration',
    ]);
    expect(
      rules(
        spec,
        podJson({
          tolerations: [
            {
              key: 'node.kubernetes.io/not-ready',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 300,
            },
          ],
        }),
      ),
    ).to.deep.equal([]);
  });
  it('each check can be turned off', () => {
    const off = {
      rules: {
        scheduling: {
          denyNodeName: false,
          denyHostnameSelector: false,
          denyControlPlaneTolerations: false,
        },
      },
    };
    expect(
      rules(
        off,
        podJson({
          nodeName: 'n',
          nodeSelector: { 'kubernetes.io/hostname': 'n' },
          tolerations: [{ operator: 'Exists' }],
        }),
      ),
    ).to.deep.equal([]);
  });
});

describe('rule: ownership.barePod', () => {
  const spec = { rules: { ownership: {} } };
  it('fails for a pod without a controller owner, passes with one', () => {
    expect(rules(spec, podJson())).to.deep.equal(['ownership.barePod']);
    expect(
      rules(
        spec,
        podJson(
          {},
          { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' }] },
        ),
      ),
    ).to.deep.equal(['ownership.barePod']);
    expect(
      rules(
        spec,
        podJson(
          {},
          {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: 'u', controller: true },
            ],
          },
        ),
      ),
    ).to.deep.equal([]);
  });
  it('never flags a workload template', () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { template: { spec: { containers: [{ name: 'c', image: 'x:1' }] } } },
    };
    expect(rules(spec, dep)).to.deep.equal([]);
  });
});

describe('rule: schedule.window', () => {
  const spec = (
    timeZone: string,
    start = '08:00',
    end = '18:00',
    days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
  ) => ({
    rules: { schedule: { allowedWindows: [{ days, start, end, timeZone }] } },
  });
  const at = (iso: string) => podJson({}, { creationTimestamp: iso });
  it('passes inside the window in its time zone, fails outside', () => {
    expect(rules(spec('Europe/Berlin'), at('2026-11-25T10:00:00Z'))).to.deep.equal([]); // Wed 11:00 Berlin
    expect(rules(spec('Europe/Berlin'), at('2026-11-25T17:30:00Z'))).to.deep.equal([
      'schedule.window',
    ]); // 18:30
    expect(rules(spec('Europe/Berlin'), at('2026-11-28T10:00:00Z'))).to.deep.equal([
      'schedule.window',
    ]); // Saturday
    expect(rules(spec('America/New_York'), at('2026-11-25T12:00:00Z'))).to.deep.equal([
      'schedule.window',
    ]); // 07:00 NY
    expect(rules(spec('America/New_York'), at('2026-11-25T14:00:00Z'))).to.deep.equal([]);
  });
  it('honours daylight saving time', () => {
    // 07:30 UTC is 09:30 in Berlin in summer (CEST) and 08:30 in winter: both inside 08:00-18:00...
    expect(
      rules(spec('Europe/Berlin', '09:00', '18:00'), at('2026-07-01T07:30:00Z')),
    ).to.deep.equal([]);
    // ...but only summer is inside a window that opens at 09:00.
    expect(
      rules(spec('Europe/Berlin', '09:00', '18:00'), at('2026-01-07T07:30:00Z')),
    ).to.deep.equal(['schedule.window']);
  });
  it('handles windows that cross midnight, by the day they start', () => {
    const night = spec('UTC', '22:00', '06:00', ['Fri']);
    expect(rules(night, at('2026-11-27T23:00:00Z'))).to.deep.equal([]); // Fri 23:00
    expect(rules(night, at('2026-11-28T05:00:00Z'))).to.deep.equal([]); // Sat 05:00, started Fri
    expect(rules(night, at('2026-11-28T23:00:00Z'))).to.deep.equal(['schedule.window']); // Sat 23:00
    expect(rules(night, at('2026-11-27T05:00:00Z'))).to.deep.equal(['schedule.window']); // Fri 05:00, started Thu
  });
  it('ignores a creationTimestamp it does not trust (a manifest can claim any time)', () => {
    const claimed = at('2026-11-25T10:00:00Z'); // Wednesday 10:00 UTC: inside
    const night = new Date('2026-11-25T23:00:00Z');
    expect(rules(spec('UTC'), claimed, night, true)).to.deep.equal([]);
    expect(rules(spec('UTC'), claimed, night, false)).to.deep.equal(['schedule.window']);
  });
  it('uses the evaluation time for manifests never created', () => {
    expect(rules(spec('UTC'), podJson(), new Date('2026-11-25T12:00:00Z'))).to.deep.equal([]);
    expect(rules(spec('UTC'), podJson(), new Date('2026-11-25T20:00:00Z'))).to.deep.equal([
      'schedule.window',
    ]);
  });
});
