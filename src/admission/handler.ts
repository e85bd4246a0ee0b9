// One admission review in, one answer out: the pod or workload (or policy) in the request judged
// with the operator's engine, evaluation pool and policies, and answered per spec.admission. No
// I/O of its own: the HTTPS server (server.ts) feeds it bodies; it writes nothing, so a server
// dry run is judged like any request and leaves nothing behind (sideEffects: None).
//
// It fails open by design: a request it cannot judge in time (a worker stuck, the policies not
// loaded yet) is admitted with a warning, and the operator's watch judges the pod as it appears.
import type { PolicyAdmission } from '../api/policy.ts';
import type { Clock, Timer } from '../base/clock.ts';
import { asObject, type Json } from '../base/json.ts';
import { errorMessage, type Log } from '../base/log.ts';
import type { CompiledPolicy } from '../engine/compiled-policy.ts';
import type { EvaluationContext } from '../engine/evaluate.ts';
import { anyGlob, type Glob } from '../engine/glob.ts';
import { POD_KINDS, sanitizePod, type SanitizedPod } from '../engine/sanitize.ts';
import type { PodEvaluator } from '../evaluation/evaluator.ts';
import { decideWorkload } from './decide.ts';
import { checkPolicy } from './policy-check.ts';
import {
  readReview,
  reviewAnswer,
  type AdmissionRequest,
  type AdmissionResponse,
} from './review.ts';

export const PODS_PATH = '/validate/workloads';
export const POLICIES_PATH = '/validate/policies';

/** What the webhook answered, for the metric and the log. */
export type AdmissionOutcome = 'allowed' | 'warned' | 'denied' | 'invalid' | 'failed_open';

export interface AdmissionHandlerDeps {
  evaluator: PodEvaluator;
  /** The policies admission answers for (spec.admission.action not Off); the same list object while they don't change. */
  policies(): readonly CompiledPolicy[];
  /** False until the policies have been loaded once: until then every request fails open. */
  loaded(): boolean;
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** Namespaces never judged at admission (the installer's protected floor, the operator's own). */
  exempt: readonly Glob[];
  clock: Clock;
  log: Log;
  /** Most time one request may take to judge before it is admitted unjudged. Default 2 s. */
  deadlineMs?: number;
  onOutcome?(kind: string, outcome: AdmissionOutcome, seconds: number): void;
}

export interface Answer {
  code: number;
  body: Json;
}

const DEFAULT_DEADLINE_MS = 2000;

export class AdmissionHandler {
  private readonly deps: AdmissionHandlerDeps;
  private readonly byName = new WeakMap<readonly CompiledPolicy[], Map<string, PolicyAdmission>>();

  constructor(deps: AdmissionHandlerDeps) {
    this.deps = deps;
  }

  async handle(path: string, body: unknown): Promise<Answer> {
    const request = readReview(body);
    if ('problem' in request) return { code: 400, body: { message: request.problem } };
    const started = this.deps.clock.now();
    const { response, outcome } =
      path === POLICIES_PATH
        ? policyAnswer(request)
        : await this.workloadAnswer(request).catch((err: unknown) => {
            this.deps.log.warn('admission: could not judge a request; admitted it', {
              kind: request.kind.kind,
              namespace: request.namespace,
              name: request.name,
              error: errorMessage(err),
            });
            return failedOpen(request, 'it could not be judged');
          });
    this.deps.onOutcome?.(
      kindLabel(request.kind.kind),
      outcome,
      (this.deps.clock.now() - started) / 1000,
    );
    return { code: 200, body: reviewAnswer(response) };
  }

  private async workloadAnswer(
    request: AdmissionRequest,
  ): Promise<{ response: AdmissionResponse; outcome: AdmissionOutcome }> {
    const allowed = { response: { uid: request.uid, allowed: true }, outcome: 'allowed' as const };
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allowed;
    if (!POD_KINDS.includes(request.kind.kind)) return allowed;
    if (anyGlob(this.deps.exempt, request.namespace)) return allowed;
    if (!this.deps.loaded()) return failedOpen(request, 'the policies are not loaded yet');
    const policies = this.deps.policies();
    if (policies.length === 0) return allowed;
    const current = this.sanitized(request, request.object);
    if (!current) return allowed;
    const previous =
      request.operation === 'UPDATE' ? this.sanitized(request, request.oldObject) : undefined;
    // One "now" for both objects: a schedule window's message names the time, and two readings
    // would make an unchanged violation look new.
    const now = new Date(this.deps.clock.now());
    const namespaceLabels = this.deps.namespaceLabels(request.namespace) ?? {};
    const ctx = (s: SanitizedPod): EvaluationContext => ({
      namespaceLabels,
      now,
      truncated: s.truncated,
    });
    const judged = await this.within(
      Promise.all([
        this.deps.evaluator.evaluate(current.pod, policies, ctx(current)),
        previous ? this.deps.evaluator.evaluate(previous.pod, policies, ctx(previous)) : undefined,
      ]),
    );
    if (!judged) return failedOpen(request, 'it was not judged in time');
    const [after, before] = judged;
    const byName = this.admissionByName(policies);
    const decision = decideWorkload({
      uid: request.uid,
      what: describeTarget(request, current),
      current: after,
      previous: before,
      admission: (name) => byName.get(name),
    });
    if (decision.denied.length > 0 || decision.warned.length > 0) {
      // On-call's record of what was stopped, and by whose request.
      this.deps.log.info(decision.denied.length > 0 ? 'admission: denied' : 'admission: warned', {
        kind: request.kind.kind,
        namespace: request.namespace,
        name: current.pod.metadata.name,
        operation: request.operation,
        subResource: request.subResource || undefined,
        user: request.userInfo.username,
        dryRun: request.dryRun,
        denied: decision.denied.map((v) => `${v.policy}/${v.rule}`),
        warned: decision.warned.map((v) => `${v.policy}/${v.rule}`),
      });
    }
    return {
      response: decision.response,
      outcome:
        decision.denied.length > 0 ? 'denied' : decision.warned.length > 0 ? 'warned' : 'allowed',
    };
  }

  /** spec.admission by policy name, made once per policies list rather than per request. */
  private admissionByName(
    policies: readonly CompiledPolicy[],
  ): ReadonlyMap<string, PolicyAdmission> {
    let byName = this.byName.get(policies);
    if (!byName) {
      byName = new Map(policies.map((c) => [c.policy.name, c.policy.spec.admission]));
      this.byName.set(policies, byName);
    }
    return byName;
  }

  private sanitized(request: AdmissionRequest, object: unknown): SanitizedPod | undefined {
    const o = asObject(object);
    if (!o) return undefined;
    // The API server sends objects with their kind; the request's is the fallback.
    const typed = typeof o.kind === 'string' ? o : { ...o, kind: request.kind.kind };
    return sanitizePod(typed, request.namespace || 'default');
  }

  private async within<T>(p: Promise<T>): Promise<T | undefined> {
    let timer: Timer | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = this.deps.clock.setTimer(
        () => resolve(undefined),
        this.deps.deadlineMs ?? DEFAULT_DEADLINE_MS,
      );
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      timer?.cancel();
    }
  }
}

/** The kind as a metric label: one of the kinds the webhook is registered for, else "other". */
function kindLabel(kind: string): string {
  return POD_KINDS.includes(kind) || kind === 'ContainerDeploymentPolicy' ? kind : 'other';
}

function policyAnswer(request: AdmissionRequest): {
  response: AdmissionResponse;
  outcome: AdmissionOutcome;
} {
  const response = checkPolicy(request);
  return { response, outcome: response.allowed ? 'allowed' : 'invalid' };
}

function failedOpen(
  request: AdmissionRequest,
  why: string,
): { response: AdmissionResponse; outcome: AdmissionOutcome } {
  return {
    response: {
      uid: request.uid,
      allowed: true,
      warnings: [
        `deployguard admitted this unjudged because ${why}; the operator judges it when it runs`,
      ],
    },
    outcome: 'failed_open',
  };
}

function describeTarget(request: AdmissionRequest, s: SanitizedPod): string {
  const name = s.pod.metadata.name || request.name || '(generated name)';
  const sub = request.subResource ? ` (${request.subResource})` : '';
  return `${request.kind.kind} ${request.namespace}/${name}${sub}`;
}
