// The outcome table: how each way a planned action can end is reported, in one place. Every row
// says which deployguard_actions_total outcome it counts (if any), what it logs, and which Event
// (if any) it emits; the remediator only decides which row applies.
import type { ActionType } from '../api/constants.ts';
import type { PodView } from '../engine/pod.ts';
import type { EventSpec } from '../report/events.ts';
import type { ActionOutcome } from './action.ts';
import type { Refusal } from './guards.ts';
import { podRef } from './pod-ref.ts';

/** How one planned action ended this time. */
export type Step =
  /** The cache already shows the action in effect: settled without asking the guards. */
  | { kind: 'inEffect' }
  /** The cluster refused it a moment ago (a PDB); only the requeue asks again. */
  | { kind: 'refusedEarlier'; retryInMs: number }
  /** A guard refused; `first` is false when this pod's skip was already reported. */
  | { kind: 'refusal'; refusal: Refusal; first: boolean }
  /** The action ran and says what it did. */
  | { kind: 'executed'; outcome: ActionOutcome }
  /** The action threw: nothing changed, and the reconcile is retried with backoff. */
  | { kind: 'failed'; error: unknown };

export type MetricOutcome = 'success' | 'failed' | 'skipped' | 'dry_run';

export interface Report {
  metric?: MetricOutcome;
  log?: { level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields: object };
  event?: EventSpec;
}

export interface StepContext {
  policy: string;
  type: ActionType;
  pod: PodView;
}

function skippedEvent(c: StepContext, text: string, warning = false): EventSpec {
  return {
    target: podRef(c.pod),
    type: warning ? 'Warning' : 'Normal',
    reason: 'ActionSkipped',
    action: c.type,
    message: `policy ${c.policy}: ${c.type} ${text}`,
  };
}

function refusalReport(c: StepContext, r: Refusal, first: boolean): Report {
  if (r.outcome === 'wait')
    return {
      log: { level: 'debug', msg: 'action waits', fields: { guard: r.guard, reason: r.reason } },
    };
  if (!first) return {};
  return {
    metric: r.outcome,
    log: {
      level: 'info',
      msg: 'action skipped',
      fields: { outcome: r.outcome, guard: r.guard, reason: r.reason },
    },
    event: skippedEvent(c, `skipped: ${r.reason}`),
  };
}

function executedReport(c: StepContext, o: ActionOutcome): Report {
  switch (o.kind) {
    case 'noop':
      return {
        log: {
          level: 'debug',
          msg: 'action already in effect',
          fields: { outcome: 'noop', reason: o.why },
        },
      };
    case 'skipped':
      return {
        metric: 'skipped',
        log: {
          level: 'info',
          msg: 'action skipped',
          fields: { outcome: 'skipped', reason: o.why },
        },
        event: skippedEvent(c, `skipped: ${o.why}`),
      };
    case 'refused':
      return {
        metric: 'skipped',
        log: {
          level: 'info',
          msg: 'action skipped',
          fields: { outcome: 'skipped', reason: o.why },
        },
        event: skippedEvent(c, `refused by the cluster, will retry: ${o.why}`, true),
      };
    case 'success':
      return {
        metric: 'success',
        log: {
          level: 'warn',
          msg: 'action taken',
          fields: { outcome: 'success', reason: o.event.message },
        },
        event: o.event,
      };
  }
}

/** The row of the table for a step. */
export function reportFor(c: StepContext, step: Step): Report {
  switch (step.kind) {
    case 'inEffect':
    case 'refusedEarlier':
      return {};
    case 'refusal':
      return refusalReport(c, step.refusal, step.first);
    case 'executed':
      return executedReport(c, step.outcome);
    case 'failed':
      return {
        metric: 'failed',
        log: {
          level: 'error',
          msg: 'action failed',
          fields: {
            outcome: 'failed',
            error: step.error instanceof Error ? step.error.message : String(step.error),
          },
        },
      };
  }
}
