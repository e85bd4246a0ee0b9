// `deployguard run` configuration: flags, then DEPLOYGUARD_* environment variables, then defaults.
// Read once by the composition root and passed down as a frozen object; nothing else reads the
// environment. Every problem is collected into one list, so a bad Deployment is fixed in one go.
import { parseArgs } from 'node:util';
import { parseBindAddress } from './base/bind-address.ts';

export interface Config {
  kubeconfig?: string;
  metricsBindAddress: string;
  /** /metrics over TLS to a bearer token allowed get /metrics (TokenReview + SubjectAccessReview). */
  metricsSecure: boolean;
  /** tls.crt and tls.key for the metrics endpoint; default a self-signed certificate made at start. */
  metricsCertDir?: string;
  healthProbeBindAddress: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  /** Name of the Lease; fixed by the API contract, not a flag. */
  leaderElectionId: string;
  logLevel: LogLevel;
  logFormat: 'json' | 'text';
  dryRun: boolean;
  resyncPeriodMs: number;
  watchNamespace?: string;
  /** Label selector on ContainerDeploymentPolicies: only matching ones are loaded (e.g. to shard or canary policies). */
  policySelector?: string;
  workers: number;
  /** Threads that judge pods; 0 judges on the main thread. */
  evaluationWorkers: number;
  shutdownTimeoutMs: number;
  identity: string;
  /** Installer floors: protected whatever a policy says (globs), unioned with each policy's. */
  protectedNamespaces: string[];
  /** Installer floors: the most any policy may cordon, and act, whatever it asks. */
  maxCordonedNodesPercent: number;
  maxActionsPerMinute: number;
  /** Where the admission webhook listens (HTTPS); "0" serves none. */
  admissionBindAddress: string;
  /** How the API server reaches the webhook: a base URL (out of cluster) ... */
  admissionUrl?: string;
  /** ... or a Service in the cluster. */
  admissionService?: { namespace: string; name: string; port: number };
  /** Life of the webhook's serving certificate; renewed with a third left. The CA lives 5 times longer. */
  admissionCertValidityMs: number;
  /** How often each replica re-reads the certificates (and the leader renews them). */
  admissionCertCheckMs: number;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type ConfigResult =
  { ok: true; config: Readonly<Config> } | { ok: false; errors: string[]; help?: boolean };

export const LEADER_ELECTION_ID = 'deployguard-leader';
const LOG_LEVELS: readonly string[] = ['error', 'warn', 'info', 'debug'];
const MIN_RESYNC_MS = 10_000;
const MAX_RESYNC_MS = 24 * 3600_000;

/** One flag: how it reads, how it is documented, and where its value lands. */
interface FlagSpec {
  name: string;
  type: 'string' | 'boolean';
  placeholder?: string;
  default: string;
  help: string;
  /** Validates a raw value into the config; returns a problem description or undefined. */
  apply(raw: string, into: Partial<Config>): string | undefined;
}

const envName = (flag: string): string => `DEPLOYGUARD_${flag.toUpperCase().replaceAll('-', '_')}`;

const FLAGS: readonly FlagSpec[] = [
  optionalName(
    'kubeconfig',
    'PATH',
    'kubeconfig file; default KUBECONFIG, then in-cluster',
    'kubeconfig',
    false,
  ),
  bindAddress(
    'metrics-bind-address',
    ':8080',
    'serve /metrics here; "0" disables',
    'metricsBindAddress',
  ),
  {
    name: 'metrics-secure',
    type: 'boolean',
    default: 'true',
    help: 'TLS, and only tokens allowed "get /metrics"; false: open HTTP',
    apply: (raw, into) => {
      const v = raw.toLowerCase();
      if (v === 'true' || v === '1') into.metricsSecure = true;
      else if (v === 'false' || v === '0') into.metricsSecure = false;
      else return 'must be true or false';
    },
  },
  {
    name: 'metrics-cert-dir',
    type: 'string',
    placeholder: 'DIR',
    default: '',
    help: 'tls.crt and tls.key for /metrics (re-read each minute)',
    apply: (raw, into) => {
      into.metricsCertDir = raw === '' ? undefined : raw;
    },
  },
  bindAddress(
    'health-probe-bind-address',
    ':8081',
    'serve /healthz and /readyz here; "0" disables',
    'healthProbeBindAddress',
  ),
  boolean(
    'leader-elect',
    'one active replica at a time, via Lease "deployguard-leader"',
    'leaderElect',
  ),
  optionalName(
    'leader-election-namespace',
    'NS',
    "namespace of the Lease; default the pod's own namespace",
    'leaderElectionNamespace',
    true,
  ),
  {
    name: 'leader-election-identity',
    type: 'string',
    placeholder: 'ID',
    default: '',
    help: 'holder identity in the Lease; default HOSTNAME_RANDOMHEX',
    apply: (raw, into) => {
      if (raw === '' || raw.length > 128 || /[\p{C}\s]/u.test(raw))
        return 'must be 1 to 128 printable characters without spaces';
      into.identity = raw;
    },
  },
  {
    name: 'log-level',
    type: 'string',
    placeholder: 'LEVEL',
    default: 'info',
    help: 'error, warn, info or debug',
    apply: (raw, into) => {
      if (!LOG_LEVELS.includes(raw)) return 'must be one of error, warn, info, debug';
      into.logLevel = raw as LogLevel;
    },
  },
  {
    name: 'log-format',
    type: 'string',
    placeholder: 'FORMAT',
    default: 'json',
    help: 'json (one object per line) or text',
    apply: (raw, into) => {
      if (raw !== 'json' && raw !== 'text') return 'must be json or text';
      into.logFormat = raw;
    },
  },
  boolean('dry-run', 'never act; report what would have been done as dry_run', 'dryRun'),
  duration(
    'resync-period',
    '10m',
    're-evaluate every cached pod this often; at least 10s',
    'resyncPeriodMs',
    MIN_RESYNC_MS,
    MAX_RESYNC_MS,
  ),
  optionalName(
    'watch-namespace',
    'NS',
    'watch only the pods of this namespace; default all',
    'watchNamespace',
    true,
  ),
  {
    name: 'policy-selector',
    type: 'string',
    placeholder: 'SELECTOR',
    default: '',
    help: 'load only policies with these labels, e.g. team=a,tier!=b',
    apply: (raw, into) => {
      if (raw === '') {
        into.policySelector = undefined;
        return;
      }
      // Equality-based terms only: checked here so a typo fails at start, not as a watch that
      // the API server refuses forever.
      const key =
        '([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?';
      const value = '([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
      const term = new RegExp(`^(!?${key}|${key}(=|==|!=)${value})$`);
      if (raw.length > 1024 || !raw.split(',').every((t) => term.test(t.trim())))
        return 'must be a label selector of key, !key, key=value or key!=value terms joined by commas';
      into.policySelector = raw;
    },
  },
  {
    name: 'workers',
    type: 'string',
    placeholder: 'N',
    default: '32',
    help: 'pods reconciled at once (mostly waiting on writes), 1 to 64',
    apply: (raw, into) => {
      const n = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= 1 && n <= 64)) return 'must be an integer from 1 to 64';
      into.workers = n;
    },
  },
  {
    name: 'protected-namespaces',
    type: 'string',
    placeholder: 'GLOBS',
    default: 'kube-system',
    help: 'never act here, whatever policies say; comma-separated globs',
    apply: (raw, into) => {
      const list = raw === '' ? [] : raw.split(',').map((t) => t.trim());
      if (
        list.length > 128 ||
        !list.every((g) => /^[a-z0-9*?]([-a-z0-9*?]{0,61}[a-z0-9*?])?$/.test(g))
      )
        return 'must be namespace names or globs (lowercase letters, digits, "-", "*", "?") joined by commas';
      into.protectedNamespaces = list;
    },
  },
  integer(
    'max-cordoned-nodes-percent',
    '50',
    'the most % of nodes any policy may cordon, 0 to 100',
    'maxCordonedNodesPercent',
    0,
    100,
  ),
  integer(
    'max-actions-per-minute',
    '120',
    'the most actions any policy may take a minute, 1 to 10000',
    'maxActionsPerMinute',
    1,
    10_000,
  ),
  {
    name: 'evaluation-workers',
    type: 'string',
    placeholder: 'N',
    default: '2',
    help: 'threads that judge pods, 0 to 16 (0: on the main thread)',
    apply: (raw, into) => {
      const n = /^\d{1,2}$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= 0 && n <= 16)) return 'must be an integer from 0 to 16';
      into.evaluationWorkers = n;
    },
  },
  bindAddress(
    'admission-bind-address',
    '0',
    'serve the admission webhook (HTTPS) here; "0" disables',
    'admissionBindAddress',
  ),
  {
    name: 'admission-url',
    type: 'string',
    placeholder: 'URL',
    default: '',
    help: 'the API server calls the webhook here (https; out of cluster)',
    apply: (raw, into) => {
      if (raw === '') return void (into.admissionUrl = undefined);
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        return 'must be an https URL';
      }
      if (u.protocol !== 'https:' || u.search || u.hash || u.username || raw.length > 512)
        return 'must be an https URL without query, fragment or user';
      into.admissionUrl = raw;
    },
  },
  {
    name: 'admission-service',
    type: 'string',
    placeholder: 'NS/NAME[:PORT]',
    default: '',
    help: 'the API server reaches the webhook through this Service',
    apply: (raw, into) => {
      if (raw === '') return void (into.admissionService = undefined);
      const dns = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
      const m = new RegExp(`^(${dns})/(${dns})(?::(\\d{1,5}))?$`).exec(raw);
      const port = m?.[5] === undefined ? 443 : Number(m[5]);
      if (!m || !(port >= 1 && port <= 65535))
        return 'must be NAMESPACE/NAME or NAMESPACE/NAME:PORT';
      into.admissionService = { namespace: m[1] as string, name: m[3] as string, port };
    },
  },
  duration(
    'admission-cert-validity',
    '2160h',
    "the webhook certificate's life (its CA's: 5x); 20s to 87600h",
    'admissionCertValidityMs',
    20_000,
    87_600 * 3600_000,
  ),
  duration(
    'admission-cert-check',
    '1m',
    'read (leader: renew) the webhook certificates this often',
    'admissionCertCheckMs',
    1000,
    3600_000,
  ),
  duration(
    'shutdown-timeout',
    '25s',
    'on SIGTERM, wait this long for work in flight; 1s to 1h',
    'shutdownTimeoutMs',
    1000,
    3600_000,
  ),
];

function integer(
  name: string,
  def: string,
  help: string,
  key: 'maxCordonedNodesPercent' | 'maxActionsPerMinute',
  min: number,
  max: number,
): FlagSpec {
  return {
    name,
    type: 'string',
    placeholder: 'N',
    default: def,
    help,
    apply: (raw, into) => {
      const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= min && n <= max)) return `must be an integer from ${min} to ${max}`;
      into[key] = n;
    },
  };
}

function boolean(name: string, help: string, key: 'leaderElect' | 'dryRun'): FlagSpec {
  return {
    name,
    type: 'boolean',
    default: 'false',
    help,
    apply: (raw, into) => {
      const v = raw.toLowerCase();
      if (v === 'true' || v === '1') into[key] = true;
      else if (v === 'false' || v === '0') into[key] = false;
      else return 'must be true or false';
    },
  };
}

function bindAddress(
  name: string,
  def: string,
  help: string,
  key: 'metricsBindAddress' | 'healthProbeBindAddress' | 'admissionBindAddress',
): FlagSpec {
  return {
    name,
    type: 'string',
    placeholder: 'ADDR',
    default: def,
    help,
    apply: (raw, into) => {
      if (parseBindAddress(raw) === undefined)
        return 'must be ":PORT", "HOST:PORT", "[IPv6]:PORT" or "0" (disabled), port 0 to 65535';
      into[key] = raw;
    },
  };
}

function duration(
  name: string,
  def: string,
  help: string,
  key: 'resyncPeriodMs' | 'shutdownTimeoutMs' | 'admissionCertValidityMs' | 'admissionCertCheckMs',
  min: number,
  max: number,
): FlagSpec {
  return {
    name,
    type: 'string',
    placeholder: 'DURATION',
    default: def,
    help,
    apply: (raw, into) => {
      const ms = parseDuration(raw);
      if (ms === undefined) return 'must be a duration such as 30s, 10m or 1h30m';
      if (ms < min || ms > max) return `must be from ${formatMs(min)} to ${formatMs(max)}`;
      into[key] = ms;
    },
  };
}

/** A path or namespace that may be left out; an empty flag value clears a value set in the env. */
function optionalName(
  name: string,
  placeholder: string,
  help: string,
  key: 'kubeconfig' | 'leaderElectionNamespace' | 'watchNamespace',
  isNamespace: boolean,
): FlagSpec {
  return {
    name,
    type: 'string',
    placeholder,
    default: '',
    help,
    apply: (raw, into) => {
      if (raw === '') return void (into[key] = undefined);
      if (isNamespace && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(raw))
        return 'must be a namespace name (lowercase letters, digits and "-", at most 63)';
      into[key] = raw;
    },
  };
}

export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  defaults: { hostname: string; randomId: string },
): ConfigResult {
  const errors: string[] = [];
  const fromFlags = new Map<string, string>();
  let help = false;
  // Non-strict parse + our own checks of every token: strict mode stops at the first problem, and
  // the contract is one message listing all of them. The checks below are what strict mode checks.
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const f of FLAGS) options[f.name] = { type: f.type };
  const { tokens } = parseArgs({
    args: argv,
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const t of tokens) {
    if (t.kind === 'positional') {
      errors.push(`unexpected argument ${quote(t.value)}`);
      continue;
    }
    if (t.kind !== 'option') continue;
    if (t.name === 'help') {
      help = true;
      continue;
    }
    const spec = FLAGS.find((f) => f.name === t.name);
    if (spec === undefined) {
      errors.push(`unknown flag ${quote(t.rawName)}`);
    } else if (spec.type === 'boolean') {
      fromFlags.set(spec.name, t.value ?? 'true');
    } else if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))) {
      errors.push(`--${spec.name}: needs a value (write --${spec.name}=VALUE)`);
    } else {
      fromFlags.set(spec.name, t.value);
    }
  }
  if (help) return { ok: false, errors: [], help: true };

  const into: Partial<Config> = {};
  for (const spec of FLAGS) {
    const flagValue = fromFlags.get(spec.name);
    const envValue = env[envName(spec.name)];
    // An empty env var counts as unset: manifests often template `value: ""`.
    const [raw, origin] =
      flagValue !== undefined
        ? [flagValue, `--${spec.name}`]
        : envValue !== undefined && envValue !== ''
          ? [envValue, `--${spec.name} (from ${envName(spec.name)})`]
          : [undefined, ''];
    if (raw === undefined) continue;
    const problem = spec.apply(raw, into);
    if (problem !== undefined) errors.push(`${origin}: ${problem}, got ${quote(raw)}`);
  }
  const serving = (into.admissionBindAddress ?? '0') !== '0';
  const targets = [into.admissionUrl, into.admissionService].filter((t) => t !== undefined);
  if (serving && targets.length !== 1)
    errors.push(
      '--admission-bind-address: needs exactly one of --admission-url and --admission-service',
    );
  if (!serving && targets.length > 0)
    errors.push('--admission-url and --admission-service need --admission-bind-address');
  if (errors.length > 0) return { ok: false, errors };

  const config: Config = {
    metricsBindAddress: ':8080',
    metricsSecure: true,
    healthProbeBindAddress: ':8081',
    leaderElect: false,
    leaderElectionId: LEADER_ELECTION_ID,
    logLevel: 'info',
    logFormat: 'json',
    dryRun: false,
    resyncPeriodMs: 10 * 60_000,
    workers: 32,
    evaluationWorkers: 2,
    shutdownTimeoutMs: 25_000,
    identity: `${defaults.hostname}_${defaults.randomId}`,
    protectedNamespaces: ['kube-system'],
    maxCordonedNodesPercent: 50,
    maxActionsPerMinute: 120,
    admissionBindAddress: '0',
    admissionCertValidityMs: 2160 * 3600_000,
    admissionCertCheckMs: 60_000,
  };
  for (const [k, v] of Object.entries(into)) if (v !== undefined) Object.assign(config, { [k]: v });
  return { ok: true, config: Object.freeze(config) };
}

/** Values in messages are attacker-neutral: quoted, escaped and capped. */
const quote = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

const UNIT_MS: Readonly<Record<string, number>> = { h: 3600_000, m: 60_000, s: 1000, ms: 1 };

/**
 * Go's time.ParseDuration for the units an operator needs (h, m, s, ms), combinable ("1h30m") and
 * with fractions ("1.5h"); "0" alone is zero. No sign. Returns whole milliseconds.
 */
export function parseDuration(s: string): number | undefined {
  if (s === '0') return 0;
  if (!/^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ms|h|m|s))+$/.test(s)) return undefined;
  let total = 0;
  for (const [, num, unit] of s.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)/g))
    total += Number(num) * (UNIT_MS[unit as string] as number);
  const ms = Math.round(total);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

function formatMs(ms: number): string {
  if (ms % 3600_000 === 0) return `${ms / 3600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const COL = 38;
export const RUN_USAGE = `Usage: deployguard run [flags]

Runs the operator: watches pods, judges them against ContainerDeploymentPolicies and remediates.
Every flag can also be set with the environment variable shown; a flag wins over its variable.
Booleans take --flag, --flag=true|false, or true/false/1/0 in the environment.

${FLAGS.map((f) => {
  const left = `  --${f.name}${f.placeholder ? ` ${f.placeholder}` : ''}`;
  const def = f.default === '' ? '' : `default ${f.default}, `;
  return `${left.padEnd(COL)}${f.help}\n${' '.repeat(COL)}${def}env ${envName(f.name)}\n`;
}).join('')}${'  -h, --help'.padEnd(COL)}show this help
`;
