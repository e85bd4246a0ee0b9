import { expect } from 'chai';
import { parseBindAddress } from '../../src/base/bind-address.ts';
import { parseConfig, parseDuration, RUN_USAGE } from '../../src/config.ts';
import type { Config, ConfigResult } from '../../src/config.ts';

const HOST = { hostname: 'op-7f9c', randomId: 'a1b2c3' };

function ok(argv: string[], env: Record<string, string | undefined> = {}): Readonly<Config> {
  const r = parseConfig(argv, env, HOST);
  if (!r.ok) expect.fail(`expected a config, got ${JSON.stringify(r.errors)}`);
  return r.config;
}

function errors(argv: string[], env: Record<string, string | undefined> = {}): string[] {
  const r: ConfigResult = parseConfig(argv, env, HOST);
  if (r.ok) expect.fail('expected errors');
  return r.errors;
}

describe('config', () => {
  it('defaults', () => {
    expect(ok([])).to.deep.equal({
      metricsBindAddress: ':8080',
      metricsSecure: true,
      healthProbeBindAddress: ':8081',
      leaderElect: false,
      leaderElectionId: 'deployguard-leader',
      logLevel: 'info',
      logFormat: 'json',
      dryRun: false,
      resyncPeriodMs: 600_000,
      workers: 32,
      evaluationWorkers: 2,
      shutdownTimeoutMs: 25_000,
      identity: 'op-7f9c_a1b2c3',
      protectedNamespaces: ['kube-system'],
      maxCordonedNodesPercent: 50,
      maxActionsPerMinute: 120,
      admissionBindAddress: '0',
      admissionCertValidityMs: 2160 * 3600_000,
      admissionCertCheckMs: 60_000,
    });
    expect(Object.isFrozen(ok([]))).to.equal(true);
  });

  it('reads every flag', () => {
    expect(
      ok([
        '--kubeconfig=/k',
        '--metrics-bind-address',
        '127.0.0.1:9090',
        '--metrics-secure=false',
        '--metrics-cert-dir=/certs',
        '--health-probe-bind-address=[::1]:9091',
        '--leader-elect',
        '--leader-election-namespace=ops',
        '--leader-election-identity=me',
        '--log-level=debug',
        '--log-format',
        'text',
        '--dry-run',
        '--resync-period=1h30m',
        '--watch-namespace=apps',
        '--workers=64',
        '--evaluation-workers=0',
        '--shutdown-timeout=5s',
        '--protected-namespaces=kube-*,ops',
        '--max-cordoned-nodes-percent=10',
        '--max-actions-per-minute=7',
        '--admission-bind-address=:9443',
        '--admission-service=ops/deployguard-webhook:8443',
        '--admission-cert-validity=720h',
        '--admission-cert-check=10s',
      ]),
    ).to.deep.equal({
      kubeconfig: '/k',
      metricsBindAddress: '127.0.0.1:9090',
      metricsSecure: false,
      metricsCertDir: '/certs',
      healthProbeBindAddress: '[::1]:9091',
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      leaderElectionId: 'deployguard-leader',
      identity: 'me',
      logLevel: 'debug',
      logFormat: 'text',
      dryRun: true,
      resyncPeriodMs: 5_400_000,
      watchNamespace: 'apps',
      workers: 64,
      evaluationWorkers: 0,
      shutdownTimeoutMs: 5000,
      protectedNamespaces: ['kube-*', 'ops'],
      maxCordonedNodesPercent: 10,
      maxActionsPerMinute: 7,
      admissionBindAddress: ':9443',
      admissionService: { namespace: 'ops', name: 'deployguard-webhook', port: 8443 },
      admissionCertValidityMs: 720 * 3600_000,
      admissionCertCheckMs: 10_000,
    });
  });

  it('serves admission only with exactly one way for the API server to reach it', () => {
    expect(
      ok(['--admission-bind-address=:9443', '--admission-url=https://10.0.0.5:9443/x']),
    ).to.include({ admissionUrl: 'https://10.0.0.5:9443/x' });
    expect(
      ok(['--admission-bind-address=:9443', '--admission-service=ops/wh']).admissionService,
    ).to.deep.equal({ namespace: 'ops', name: 'wh', port: 443 });
    expect(errors(['--admission-bind-address=:9443']).join('\n')).to.match(
      /needs exactly one of --admission-url and --admission-service/,
    );
    expect(
      errors([
        '--admission-bind-address=:9443',
        '--admission-url=https://a:1',
        '--admission-service=ops/wh',
      ]).join('\n'),
    ).to.match(/needs exactly one/);
    expect(errors(['--admission-url=https://a:1']).join('\n')).to.match(
      /need --admission-bind-address/,
    );
    const refused = errors([
      '--admission-bind-address=:9443',
      '--admission-url=http://a:1',
      '--admission-service=Ops/wh:99999',
      '--admission-cert-validity=10s',
    ]).join('\n');
    expect(refused).to.match(/--admission-url: must be an https URL/);
    expect(refused).to.match(/--admission-service: must be NAMESPACE\/NAME/);
    expect(refused).to.match(/--admission-cert-validity: must be from 20s/);
  });

  it('reads the guard floors, and refuses what is not a floor', () => {
    expect(ok(['--protected-namespaces=']).protectedNamespaces).to.deep.equal([]);
    const refused = errors([
      '--protected-namespaces=Kube_System',
      '--max-cordoned-nodes-percent=101',
      '--max-actions-per-minute=0',
    ]).join('\n');
    expect(refused).to.match(/--protected-namespaces: must be namespace names or globs/);
    expect(refused).to.match(/--max-cordoned-nodes-percent: must be an integer from 0 to 100/);
    expect(refused).to.match(/--max-actions-per-minute: must be an integer from 1 to 10000/);
  });

  it('reads every flag from its DEPLOYGUARD_* variable', () => {
    const c = ok([], {
      DEPLOYGUARD_KUBECONFIG: '/k',
      DEPLOYGUARD_METRICS_BIND_ADDRESS: '0',
      DEPLOYGUARD_METRICS_SECURE: 'false',
      DEPLOYGUARD_HEALTH_PROBE_BIND_ADDRESS: ':9091',
      DEPLOYGUARD_LEADER_ELECT: 'TRUE',
      DEPLOYGUARD_LEADER_ELECTION_NAMESPACE: 'ops',
      DEPLOYGUARD_LEADER_ELECTION_IDENTITY: 'me',
      DEPLOYGUARD_LOG_LEVEL: 'warn',
      DEPLOYGUARD_LOG_FORMAT: 'text',
      DEPLOYGUARD_DRY_RUN: '1',
      DEPLOYGUARD_RESYNC_PERIOD: '30s',
      DEPLOYGUARD_WATCH_NAMESPACE: 'apps',
      DEPLOYGUARD_WORKERS: '2',
      DEPLOYGUARD_SHUTDOWN_TIMEOUT: '1m',
      KUBECONFIG: '/ignored-here', // honoured by the client loader, not by config
    });
    expect(c).to.deep.include({
      kubeconfig: '/k',
      metricsBindAddress: '0',
      metricsSecure: false,
      healthProbeBindAddress: ':9091',
      leaderElect: true,
      leaderElectionNamespace: 'ops',
      identity: 'me',
      logLevel: 'warn',
      logFormat: 'text',
      dryRun: true,
      resyncPeriodMs: 30_000,
      watchNamespace: 'apps',
      workers: 2,
      shutdownTimeoutMs: 60_000,
    });
  });

  it('lets a flag beat its variable, and treats an empty variable as unset', () => {
    const env = {
      DEPLOYGUARD_WORKERS: '2',
      DEPLOYGUARD_DRY_RUN: 'true',
      DEPLOYGUARD_LOG_LEVEL: '',
    };
    expect(ok(['--workers=8', '--dry-run=false'], env)).to.deep.include({
      workers: 8,
      dryRun: false,
      logLevel: 'info',
    });
    expect(
      ok(['--watch-namespace='], { DEPLOYGUARD_WATCH_NAMESPACE: 'apps' }).watchNamespace,
    ).to.equal(undefined);
  });

  it('accepts booleans as --flag, --flag=true|false and env true/false/1/0', () => {
    expect(ok(['--dry-run']).dryRun).to.equal(true);
    expect(ok(['--dry-run=true']).dryRun).to.equal(true);
    expect(ok(['--dry-run=false']).dryRun).to.equal(false);
    expect(ok(['--leader-elect=false', '--leader-elect']).leaderElect).to.equal(true);
    for (const [v, want] of [
      ['true', true],
      ['false', false],
      ['1', true],
      ['0', false],
    ] as const)
      expect(ok([], { DEPLOYGUARD_DRY_RUN: v }).dryRun, v).to.equal(want);
  });

  it('lists every problem together, naming the flag and the variable it came from', () => {
    const list = errors(
      [
        '--nope',
        'stray',
        '--workers=0',
        '--log-format=xml',
        '--resync-period=5s',
        '--shutdown-timeout=soon',
        '--metrics-bind-address=8080',
        '--dry-run=maybe',
        '--watch-namespace=Not_A_Namespace',
        '--kubeconfig',
      ],
      {
        DEPLOYGUARD_LOG_LEVEL: 'trace',
        DEPLOYGUARD_HEALTH_PROBE_BIND_ADDRESS: 'localhost:99999',
        DEPLOYGUARD_LEADER_ELECT: 'yes',
      },
    );
    const expected = [
      /^unknown flag "--nope"$/,
      /^unexpected argument "stray"$/,
      /^--kubeconfig: needs a value/,
      /^--workers: must be an integer from 1 to 64, got "0"$/,
      /^--log-format: must be json or text, got "xml"$/,
      /^--resync-period: must be from 10s to 24h, got "5s"$/,
      /^--shutdown-timeout: must be a duration/,
      /^--metrics-bind-address: must be ":PORT".*got "8080"$/,
      /^--dry-run: must be true or false, got "maybe"$/,
      /^--watch-namespace: must be a namespace name/,
      /^--log-level \(from DEPLOYGUARD_LOG_LEVEL\): must be one of error, warn, info, debug, got "trace"$/,
      /^--health-probe-bind-address \(from DEPLOYGUARD_HEALTH_PROBE_BIND_ADDRESS\): .*"localhost:99999"$/,
      /^--leader-elect \(from DEPLOYGUARD_LEADER_ELECT\): must be true or false, got "yes"$/,
    ];
    expect(list).to.have.length(expected.length);
    for (const re of expected)
      expect(
        list.some((e) => re.test(e)),
        String(re),
      ).to.equal(true);
  });

  it('does not take the next flag as a missing value, and escapes hostile values', () => {
    expect(errors(['--log-level', '--dry-run'])).to.deep.equal([
      '--log-level: needs a value (write --log-level=VALUE)',
    ]);
    expect(ok(['--kubeconfig=-weird']).kubeconfig).to.equal('-weird');
    const [e] = errors(['--log-level=\u001b[2J\nFAKE']);
    expect(e).to.not.match(/\p{Cc}/u);
  });

  it('answers -h/--help with a help marker and no errors', () => {
    expect(parseConfig(['--help'], {}, HOST)).to.deep.equal({ ok: false, errors: [], help: true });
    expect(parseConfig(['--workers=0', '-h'], {}, HOST)).to.deep.equal({
      ok: false,
      errors: [],
      help: true,
    });
  });

  it('reads --policy-selector as equality-based terms and refuses anything else at start', () => {
    expect(ok(['--policy-selector=team=a,tier!=canary,!legacy']).policySelector).to.equal(
      'team=a,tier!=canary,!legacy',
    );
    expect(ok([], { DEPLOYGUARD_POLICY_SELECTOR: 'example.com/shard==2' }).policySelector).to.equal(
      'example.com/shard==2',
    );
    for (const bad of ['a in (b)', 'a=b,', 'a b', 'a=b c', '=x'])
      expect(errors([`--policy-selector=${bad}`]).join(), bad).to.match(/--policy-selector/);
  });

  it('documents every flag with its variable and default in RUN_USAGE', () => {
    const flags = [
      ['kubeconfig', 'DEPLOYGUARD_KUBECONFIG'],
      ['metrics-bind-address', 'DEPLOYGUARD_METRICS_BIND_ADDRESS', ':8080'],
      ['health-probe-bind-address', 'DEPLOYGUARD_HEALTH_PROBE_BIND_ADDRESS', ':8081'],
      ['leader-elect', 'DEPLOYGUARD_LEADER_ELECT', 'false'],
      ['leader-election-namespace', 'DEPLOYGUARD_LEADER_ELECTION_NAMESPACE'],
      ['leader-election-identity', 'DEPLOYGUARD_LEADER_ELECTION_IDENTITY'],
      ['log-level', 'DEPLOYGUARD_LOG_LEVEL', 'info'],
      ['log-format', 'DEPLOYGUARD_LOG_FORMAT', 'json'],
      ['dry-run', 'DEPLOYGUARD_DRY_RUN', 'false'],
      ['resync-period', 'DEPLOYGUARD_RESYNC_PERIOD', '10m'],
      ['watch-namespace', 'DEPLOYGUARD_WATCH_NAMESPACE'],
      ['policy-selector', 'DEPLOYGUARD_POLICY_SELECTOR'],
      ['metrics-secure', 'DEPLOYGUARD_METRICS_SECURE', 'true'],
      ['metrics-cert-dir', 'DEPLOYGUARD_METRICS_CERT_DIR'],
      ['workers', 'DEPLOYGUARD_WORKERS', '32'],
      ['evaluation-workers', 'DEPLOYGUARD_EVALUATION_WORKERS', '2'],
      ['shutdown-timeout', 'DEPLOYGUARD_SHUTDOWN_TIMEOUT', '25s'],
      ['protected-namespaces', 'DEPLOYGUARD_PROTECTED_NAMESPACES', 'kube-system'],
      ['max-cordoned-nodes-percent', 'DEPLOYGUARD_MAX_CORDONED_NODES_PERCENT', '50'],
      ['max-actions-per-minute', 'DEPLOYGUARD_MAX_ACTIONS_PER_MINUTE', '120'],
      ['admission-bind-address', 'DEPLOYGUARD_ADMISSION_BIND_ADDRESS', '0'],
      ['admission-url', 'DEPLOYGUARD_ADMISSION_URL'],
      ['admission-service', 'DEPLOYGUARD_ADMISSION_SERVICE'],
      ['admission-cert-validity', 'DEPLOYGUARD_ADMISSION_CERT_VALIDITY', '2160h'],
      ['admission-cert-check', 'DEPLOYGUARD_ADMISSION_CERT_CHECK', '1m'],
    ];
    for (const [flag, env, def] of flags) {
      expect(RUN_USAGE).to.include(`--${flag}`);
      expect(RUN_USAGE).to.include(`${def ? `default ${def}, ` : ''}env ${env}\n`);
    }
    expect(RUN_USAGE.split('\n').every((l) => l.length <= 100)).to.equal(true);
  });

  describe('parseDuration', () => {
    const cases: [string, number | undefined][] = [
      ['0', 0],
      ['10m', 600_000],
      ['30s', 30_000],
      ['1h30m', 5_400_000],
      ['1h0m10s500ms', 3_610_500],
      ['250ms', 250],
      ['1.5h', 5_400_000],
      ['.5s', 500],
      ['', undefined],
      ['10', undefined],
      ['-10s', undefined],
      ['+10s', undefined],
      ['10 s', undefined],
      ['10d', undefined],
      ['10us', undefined],
      ['1e3s', undefined],
      ['s', undefined],
      ['9'.repeat(400) + 'h', undefined],
    ];
    for (const [input, want] of cases)
      it(`${JSON.stringify(input.slice(0, 20))} -> ${want}`, () =>
        expect(parseDuration(input)).to.equal(want));
  });

  describe('parseBindAddress', () => {
    it('accepts the controller-runtime forms', () => {
      expect(parseBindAddress('0')).to.equal('disabled');
      expect(parseBindAddress(':8080')).to.deep.equal({ port: 8080 });
      expect(parseBindAddress('127.0.0.1:0')).to.deep.equal({ host: '127.0.0.1', port: 0 });
      expect(parseBindAddress('localhost:9')).to.deep.equal({ host: 'localhost', port: 9 });
      expect(parseBindAddress('[::]:8081')).to.deep.equal({ host: '::', port: 8081 });
    });
    it('rejects the rest', () => {
      for (const bad of [
        '',
        '8080',
        ':',
        ':65536',
        '::1:80',
        '[nope]:80',
        'a b:80',
        'h:-1',
        ':8080 ',
      ])
        expect(parseBindAddress(bad), bad).to.equal(undefined);
    });
  });
});
