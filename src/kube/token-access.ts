// Who may read the metrics, decided by the API server as kubebuilder's secure metrics do: the
// bearer token is checked with a TokenReview, and its user with a SubjectAccessReview for a
// non-resource path (granted by the shipped `deployguard-metrics-reader` ClusterRole). The metrics
// name namespaces and rules with violations, which is reconnaissance for whoever can reach the pod.
//
// Anyone on the pod network can send tokens, so the cost of a flood is bounded: answers are cached
// per token digest (bounded, a minute), one review runs per token at a time, and at most a few
// distinct tokens are reviewed at once; the rest get "unavailable" (503) rather than a queue.
import { createHash } from 'node:crypto';
import { BoundedMap } from '../base/bounded-map.ts';
import { type Clock, systemClock } from '../base/clock.ts';
import type { KubeApi } from './api.ts';

export type AccessDecision = 'allowed' | 'unauthenticated' | 'forbidden' | 'unavailable';

export interface TokenAccessOptions {
  /** The non-resource request a token's user must be allowed, e.g. get /metrics. */
  path: string;
  verb: string;
  clock?: Clock;
  /** How long an answer holds; default 60 s (a revoked binding stops working within it). */
  ttlMs?: number;
  maxCached?: number;
  maxInFlight?: number;
}

/** Longer than any token the API server issues (a projected token is about 1 KiB). */
const MAX_TOKEN_LENGTH = 8192;
const REVIEW_TIMEOUT_MS = 10_000;

interface TokenReview {
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  };
}
interface SubjectAccessReview {
  status?: { allowed?: boolean };
}

export class TokenAccess {
  readonly #api: KubeApi;
  readonly #opts: Required<Omit<TokenAccessOptions, 'clock'>>;
  readonly #clock: Clock;
  readonly #answers: BoundedMap<string, { decision: AccessDecision; until: number }>;
  readonly #inFlight = new Map<string, Promise<AccessDecision>>();

  constructor(api: KubeApi, opts: TokenAccessOptions) {
    this.#api = api;
    this.#clock = opts.clock ?? systemClock;
    this.#opts = {
      path: opts.path,
      verb: opts.verb,
      ttlMs: opts.ttlMs ?? 60_000,
      maxCached: opts.maxCached ?? 1024,
      maxInFlight: opts.maxInFlight ?? 8,
    };
    this.#answers = new BoundedMap(this.#opts.maxCached);
  }

  /** The decision for an Authorization header value (or its absence). */
  async check(authorization: string | undefined): Promise<AccessDecision> {
    const m = /^Bearer ([^\s]+)$/i.exec(authorization ?? '');
    const token = m?.[1];
    if (token === undefined || token.length > MAX_TOKEN_LENGTH) return 'unauthenticated';
    // Only a digest is kept: the cache never holds a credential.
    const id = createHash('sha256').update(token).digest('hex');
    const now = this.#clock.now();
    const known = this.#answers.get(id);
    if (known && known.until > now) return known.decision;
    const running = this.#inFlight.get(id);
    if (running) return running;
    if (this.#inFlight.size >= this.#opts.maxInFlight) return 'unavailable';
    const review = this.#review(token).then(
      (decision) => {
        if (decision !== 'unavailable')
          this.#answers.set(id, { decision, until: this.#clock.now() + this.#opts.ttlMs });
        return decision;
      },
      (): AccessDecision => 'unavailable',
    );
    this.#inFlight.set(id, review);
    try {
      return await review;
    } finally {
      this.#inFlight.delete(id);
    }
  }

  async #review(token: string): Promise<AccessDecision> {
    const tr = await this.#api.request<TokenReview>(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
        timeoutMs: REVIEW_TIMEOUT_MS,
      },
    );
    const user = tr?.status?.user;
    if (tr?.status?.authenticated !== true || !user?.username) return 'unauthenticated';
    const sar = await this.#api.request<SubjectAccessReview>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            nonResourceAttributes: { path: this.#opts.path, verb: this.#opts.verb },
          },
        },
        timeoutMs: REVIEW_TIMEOUT_MS,
      },
    );
    return sar?.status?.allowed === true ? 'allowed' : 'forbidden';
  }
}
