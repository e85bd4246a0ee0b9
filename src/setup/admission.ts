// The admission webhook as a component of `deployguard run`, on every replica: it is stateless
// and writes nothing, so followers answer too. What it needs is shared with the operator: the
// policy and namespace caches, and the evaluation pool. Its PKI lives in one Secret in the
// operator's namespace: every replica serves what is there and re-reads it; the leader alone
// creates and renews it (certificates.ts decides when) and keeps the ValidatingWebhookConfiguration
// pointing at the webhook with the CA bundle that verifies it.
import type { Clock, Timer } from '../base/clock.ts';
import { asObject, jsonEqual } from '../base/json.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { Config } from '../config.ts';
import { nextPki, pemBundle, splitPemBundle, type Pki } from '../admission/certificates.ts';
import { admissionPolicies } from '../admission/decide.ts';
import {
  AdmissionHandler,
  PODS_PATH,
  POLICIES_PATH,
  type AdmissionOutcome,
} from '../admission/handler.ts';
import { startAdmissionServer, type AdmissionServer } from '../admission/server.ts';
import {
  WEBHOOK_CONFIGURATION,
  webhookConfiguration,
  type WebhookTarget,
} from '../admission/webhook-configuration.ts';
import { PolicyRegistry } from '../controllers/policy/registry.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import { compileGlob } from '../engine/glob.ts';
import type { PodEvaluator } from '../evaluation/evaluator.ts';
import type { KubeApi } from '../kube/api.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../kube/errors.ts';
import { resourcePath } from '../kube/paths.ts';
import type { Component } from '../runtime/component.ts';
import type { Caches } from './caches.ts';

export const WEBHOOK_SECRET = 'deployguard-webhook-tls';
/** How long a CA bundle is published before the serving certificate may move to its newest CA. */
const PUBLISHED_FOR_MS = 10_000;
const VWC_PATH = resourcePath({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  resource: 'validatingwebhookconfigurations',
});

export interface AdmissionOptions {
  config: Readonly<Config>;
  /** Writes (the Secret, the webhook configuration): through the leader gate. */
  api: KubeApi;
  namespace: string;
  caches: Caches;
  evaluator: PodEvaluator;
  /** True once the caches are synced: until then requests are admitted unjudged. */
  synced(): boolean;
  isLeader(): boolean;
  clock: Clock;
  log: Log;
  onOutcome?(kind: string, outcome: AdmissionOutcome, seconds: number): void;
}

export class AdmissionComponent implements Component {
  readonly name = 'admission';
  readonly needsLeader = false;
  private readonly o: AdmissionOptions;
  private readonly registry = new PolicyRegistry();
  private readyOf?: readonly CompiledPolicy[];
  private list: readonly CompiledPolicy[] = [];
  private readonly handler: AdmissionHandler;
  private server?: AdmissionServer;
  private served?: Pki;
  /** The CA bundle the webhook configuration was last seen or written with, and since when. */
  private published = '';
  private publishedAt = 0;
  private timer?: Timer;
  private stopped = false;
  private ticking?: Promise<void>;

  constructor(o: AdmissionOptions) {
    this.o = o;
    const exempt = [o.namespace, ...o.config.protectedNamespaces].filter(Boolean);
    this.handler = new AdmissionHandler({
      evaluator: o.evaluator,
      policies: () => this.policies(),
      loaded: o.synced,
      namespaceLabels: (ns) => o.caches.namespaces.get(ns)?.labels,
      exempt: exempt.map(compileGlob),
      clock: o.clock,
      log: o.log,
      onOutcome: o.onOutcome,
    });
  }

  /** A policy in the cache changed or went: admission follows it (on every replica). */
  policyChanged(name: string): void {
    const obj = this.o.caches.policies.get(name);
    if (obj) this.registry.upsert(obj);
    else this.registry.remove(name);
  }

  /** Ready once it serves: a replica without certificates must get no share of the Service. */
  readiness(): { ok: boolean; detail: string } {
    return this.server
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: 'admission webhook has no certificate yet' };
  }

  /** Where the webhook listens, once it does ("" before its first certificate). */
  address(): string {
    return this.server?.address ?? '';
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.ticking?.catch(() => undefined);
    await this.server?.close();
    this.server = undefined;
    this.served = undefined;
  }

  private publish(bundle: string): void {
    if (bundle === this.published) return;
    this.published = bundle;
    this.publishedAt = this.o.clock.now();
  }

  private policies(): readonly CompiledPolicy[] {
    const ready = this.registry.ready();
    if (ready !== this.readyOf) {
      this.readyOf = ready;
      this.list = admissionPolicies(ready);
    }
    return this.list;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimer(() => {
      this.ticking = this.tick()
        .catch((e: unknown) =>
          this.o.log.warn('admission: certificate check failed; retrying', {
            error: errorMessage(e),
          }),
        )
        // Until it serves, a replica looks again every 2 s: it is not ready before (readyz).
        .finally(() =>
          this.schedule(
            this.server
              ? this.o.config.admissionCertCheckMs
              : Math.min(2000, this.o.config.admissionCertCheckMs),
          ),
        );
    }, ms);
  }

  /** Read the Secret; on the leader renew it and keep the webhook configuration; serve it. */
  private async tick(): Promise<void> {
    if (this.server) this.o.log.debug('admission: connections', this.server.connections());
    const path = resourcePath({
      version: 'v1',
      resource: 'secrets',
      namespace: this.o.namespace,
      name: WEBHOOK_SECRET,
    });
    const secret = await this.getIfExists(path);
    let pki = secret && pkiOf(secret);
    if (this.o.isLeader()) {
      // What the API server has been given: read once a check, for renewal and for keeping it.
      const configuration = await this.getIfExists(`${VWC_PATH}/${WEBHOOK_CONFIGURATION}`);
      if (configuration) this.publish(caBundleOf(configuration));
      const next = nextPki(
        pki,
        this.o.clock.now(),
        this.settings(),
        (ca) =>
          // Published a while ago: the API server reloads webhook configurations from a watch, so
          // a CA written a moment ago may not be trusted yet.
          splitPemBundle(this.published).includes(ca) &&
          // (A tenth of the certificate's life at most, so that even a short one, in tests, is
          // never left to expire while it waits.)
          this.o.clock.now() - this.publishedAt >=
            Math.min(PUBLISHED_FOR_MS, this.o.config.admissionCertValidityMs / 10),
      );
      if (next) {
        // Published and served only once stored: a write that lost the race to another leader's
        // would put a CA in the webhook configuration that the other replicas can't serve.
        if (!(await this.writeSecret(path, secret, next.pki))) return;
        this.o.log.info('admission: certificates written', { why: next.why });
        pki = next.pki;
      }
      if (pki) await this.ensureConfiguration(pemBundle(pki.cas), configuration);
    }
    if (pki) await this.serve(pki);
  }

  private settings(): { hosts: string[]; caValidityMs: number; certValidityMs: number } {
    const { admissionUrl, admissionService, admissionCertValidityMs } = this.o.config;
    const hosts = admissionUrl
      ? [new URL(admissionUrl).hostname.replace(/^\[|\]$/g, '')]
      : admissionService
        ? [
            `${admissionService.name}.${admissionService.namespace}.svc`,
            `${admissionService.name}.${admissionService.namespace}.svc.cluster.local`,
          ]
        : [];
    return {
      hosts,
      certValidityMs: admissionCertValidityMs,
      caValidityMs: 5 * admissionCertValidityMs,
    };
  }

  private async serve(pki: Pki): Promise<void> {
    if (this.served && this.served.cert === pki.cert && this.served.key === pki.key) return;
    const tls = { cert: pki.cert, key: pki.key };
    if (this.server) {
      this.server.useCertificate(tls);
      this.o.log.info('admission: serving a renewed certificate', {});
    } else {
      this.server = await startAdmissionServer({
        bindAddress: this.o.config.admissionBindAddress,
        tls,
        paths: [PODS_PATH, POLICIES_PATH],
        handle: (p, body) => this.handler.handle(p, body),
        log: this.o.log,
      });
      this.o.log.info('admission webhook serving', { address: this.server.address });
    }
    this.served = pki;
  }

  /** Stores the PKI; false when another writer got there first (the next check reads theirs). */
  private async writeSecret(
    path: string,
    existing: Record<string, unknown> | undefined,
    pki: Pki,
  ): Promise<boolean> {
    const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: WEBHOOK_SECRET,
        namespace: this.o.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'deployguard' },
        ...(existing ? { resourceVersion: asObject(existing.metadata)?.resourceVersion } : {}),
      },
      data: {
        'ca.crt': b64(pemBundle(pki.cas)),
        'ca.key': b64(pki.caKey),
        'tls.crt': b64(pki.cert),
        'tls.key': b64(pki.key),
      },
    };
    try {
      if (existing) await this.o.api.request('PUT', path, { body });
      else
        await this.o.api.request(
          'POST',
          resourcePath({ version: 'v1', resource: 'secrets', namespace: this.o.namespace }),
          { body },
        );
    } catch (e) {
      // Another leader (a moment ago) wrote first: the next check reads what it wrote.
      if (isConflict(e) || isAlreadyExists(e)) return false;
      throw e;
    }
    return true;
  }

  /** The object at `path`, or undefined when there is none. */
  private async getIfExists(path: string): Promise<Record<string, unknown> | undefined> {
    return this.o.api.request<Record<string, unknown>>('GET', path).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
  }

  /** Writes the webhook configuration unless `have` (as read this check) already is what it should be. */
  private async ensureConfiguration(
    caBundle: string,
    have: Record<string, unknown> | undefined,
  ): Promise<void> {
    const { config, namespace } = this.o;
    const target: WebhookTarget = config.admissionUrl
      ? { url: config.admissionUrl }
      : { service: config.admissionService as { namespace: string; name: string; port: number } };
    const literal = config.protectedNamespaces.filter((n) => !/[*?]/.test(n));
    const want = webhookConfiguration({
      target,
      caBundle,
      excludedNamespaces: [namespace, 'kube-system', ...literal].filter(Boolean),
    });
    const path = `${VWC_PATH}/${WEBHOOK_CONFIGURATION}`;
    if (have && jsonEqual(have.webhooks, normalized(want.webhooks, have.webhooks))) return;
    const body = have
      ? {
          ...want,
          metadata: {
            ...(want.metadata as object),
            resourceVersion: asObject(have.metadata)?.resourceVersion,
          },
        }
      : want;
    try {
      await this.o.api.request(have ? 'PUT' : 'POST', have ? path : VWC_PATH, { body });
    } catch (e) {
      if (isConflict(e) || isAlreadyExists(e)) return;
      throw e;
    }
    this.publish(caBundle);
    this.o.log.info('admission: webhook configuration written', { name: WEBHOOK_CONFIGURATION });
  }
}

/**
 * The wanted webhooks with the defaults the API server fills in taken from what it holds, so an
 * unchanged configuration compares equal (and is not rewritten every check).
 */
function normalized(want: unknown, have: unknown): unknown {
  const w = Array.isArray(want) ? want : [];
  const h = Array.isArray(have) ? have : [];
  return w.map((hook: Record<string, unknown>, i) => {
    const got = asObject(h[i]) ?? {};
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(got)) out[k] = k in hook ? hook[k] : got[k];
    for (const k of Object.keys(hook)) out[k] = hook[k];
    return out;
  });
}

function caBundleOf(vwc: Record<string, unknown>): string {
  const hooks = Array.isArray(vwc.webhooks) ? vwc.webhooks : [];
  const first = asObject(asObject(hooks[0])?.clientConfig)?.caBundle;
  return typeof first === 'string' ? Buffer.from(first, 'base64').toString('utf8') : '';
}

function pkiOf(secret: Record<string, unknown>): Pki | undefined {
  const data = asObject(secret.data) ?? {};
  const read = (k: string): string | undefined =>
    typeof data[k] === 'string' ? Buffer.from(data[k], 'base64').toString('utf8') : undefined;
  const [ca, caKey, cert, key] = ['ca.crt', 'ca.key', 'tls.crt', 'tls.key'].map(read);
  if (!ca || !caKey || !cert || !key) return undefined;
  return { cas: splitPemBundle(ca), caKey, cert, key };
}
