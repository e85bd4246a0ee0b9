// /metrics and the probes as a component that runs on every replica (followers are scraped too:
// their watch metrics matter), started first so the probes answer while the caches sync.
import type { Log } from '../base/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import {
  startHttpServers,
  type HttpServers,
  type MetricsSecurity,
} from '../observability/http-server.ts';
import type { Component } from '../runtime/component.ts';
import type { Manager } from '../runtime/manager.ts';

export interface HttpServersOptions {
  metricsBindAddress: string;
  probeBindAddress: string;
  metrics: Metrics;
  /** TLS and token checks for /metrics; absent with --metrics-secure=false. */
  metricsSecurity?: MetricsSecurity;
  manager: Manager;
  log: Log;
}

export class HttpServersComponent implements Component {
  readonly name = 'http-servers';
  readonly needsLeader = false;
  private servers?: HttpServers;
  private readonly opts: HttpServersOptions;

  constructor(opts: HttpServersOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    const { manager } = this.opts;
    this.servers = await startHttpServers({
      metricsBindAddress: this.opts.metricsBindAddress,
      probeBindAddress: this.opts.probeBindAddress,
      registry: this.opts.metrics.registry,
      healthz: () => manager.healthz(),
      readyz: () => manager.readyz(),
      log: this.opts.log,
      metricsSecurity: this.opts.metricsSecurity,
    });
  }

  async stop(): Promise<void> {
    await this.servers?.close().catch(() => undefined);
  }

  /** Bound addresses, once started ("" when disabled). */
  addresses(): { metrics: string; probes: string } {
    return {
      metrics: this.servers?.metricsAddress ?? '',
      probes: this.servers?.probeAddress ?? '',
    };
  }
}
