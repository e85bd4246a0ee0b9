// The composition root of `deployguard run`: config -> logger, metrics, client -> the operator
// (src/setup/operator.ts) -> start, signals, exit. The only place that reads the environment, the
// hostname or the filesystem for configuration; everything below gets what it needs passed in.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { parseConfig, RUN_USAGE, type Config } from './config.ts';
import { KubeClient } from './kube/client.ts';
import { createLogger } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';
import { buildOperator } from './setup/operator.ts';
import { VERSION_STRING } from './version.ts';

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export const EXIT_CONFIG = 2;

/** Connections for requests at once: the workers' writes and reads, with room for the rest. */
const REQUEST_CONNECTIONS = 64;
/** Connections for Events at once: beyond it they wait their turn (nobody waits on them). */
const EVENT_CONNECTIONS = 8;

function loadKubeConfig(config: Readonly<Config>): KubeConfig {
  const kc = new KubeConfig();
  // Re-read on every call: a 401 reloads credentials (rotated tokens, refreshed certificates).
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

/**
 * The operator's own namespace: the Lease lives there, and it is never acted on. Only an explicit
 * flag or the in-cluster ServiceAccount file count: a kubeconfig's context namespace (often
 * `default`) would silently become protected when run by hand.
 */
function ownNamespace(config: Readonly<Config>): string | undefined {
  if (config.leaderElectionNamespace) return config.leaderElectionNamespace;
  if (existsSync(IN_CLUSTER_NAMESPACE)) return readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim();
  return undefined;
}

export async function runOperator(argv: string[]): Promise<number> {
  const parsed = parseConfig(argv, process.env, {
    hostname: hostname(),
    randomId: randomBytes(4).toString('hex'),
  });
  if (!parsed.ok) {
    if (parsed.help) {
      process.stdout.write(RUN_USAGE);
      return 0;
    }
    process.stderr.write(parsed.errors.map((e) => `error: ${e}\n`).join('') + `\n${RUN_USAGE}`);
    return EXIT_CONFIG;
  }
  const config = parsed.config;
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  let client: KubeClient;
  let leaseClient: KubeClient;
  let eventsClient: KubeClient;
  try {
    const clientLog = log.child({ component: 'client' });
    const load = () => loadKubeConfig(config);
    // Three connection pools, so that no kind of request waits behind another: the Lease renewal
    // (its deadline is the leadership), Events (a burst of a hundred at once must not hold back a
    // record) and everything else, bounded so one operator can't open a connection per request
    // in flight (134 after a cold start of 10k pods, unbounded).
    client = new KubeClient(load, { log: clientLog, maxSockets: REQUEST_CONNECTIONS });
    leaseClient = new KubeClient(load, { log: clientLog, maxSockets: 2 });
    eventsClient = new KubeClient(load, { log: clientLog, maxSockets: EVENT_CONNECTIONS });
  } catch (err) {
    log.error('cannot load a kubeconfig', { error: (err as Error).message });
    return EXIT_CONFIG;
  }
  const namespace = ownNamespace(config);
  if (config.leaderElect && !namespace) {
    log.error('--leader-elect needs --leader-election-namespace when not running in a cluster');
    return EXIT_CONFIG;
  }
  if (config.admissionBindAddress !== '0' && !namespace) {
    log.error(
      '--admission-bind-address needs --leader-election-namespace when not running in a cluster: its certificates live in a Secret there',
    );
    return EXIT_CONFIG;
  }
  const metrics = createMetrics({ version: VERSION_STRING });
  const { manager, servers } = buildOperator({
    config,
    api: client,
    leaseApi: leaseClient,
    eventsApi: eventsClient,
    log,
    metrics,
    namespace: namespace ?? '',
  });
  process.on('unhandledRejection', (reason) => {
    // A bug somewhere must not end watching silently; it is logged loudly instead.
    log.error('unhandled rejection', {
      error: reason instanceof Error ? reason.stack : String(reason),
    });
  });
  try {
    await manager.start();
  } catch (err) {
    log.error('cannot serve metrics/probes', { error: (err as Error).message });
    return EXIT_CONFIG;
  }
  const addresses = servers.addresses();
  log.info('deployguard starting', {
    version: VERSION_STRING,
    identity: config.identity,
    leaderElect: config.leaderElect,
    namespace,
    watchNamespace: config.watchNamespace ?? '(all)',
    dryRun: config.dryRun,
    metrics: addresses.metrics,
    probes: addresses.probes,
  });

  let signals = 0;
  const onSignal = (sig: string): void => {
    if (++signals > 1) {
      log.warn('second signal: exiting now', { signal: sig });
      process.exit(1);
    }
    log.info('shutting down', { signal: sig });
    void manager.stop(config.shutdownTimeoutMs);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const ending = await manager.done;
  log.info('deployguard stopped', { reason: ending });
  // Losing the lease mid-term ends the process, as client-go's managers do: a restart rejoins cleanly.
  return ending === 'lost-leadership' ? 1 : 0;
}
