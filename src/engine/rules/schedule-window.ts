import { WEEKDAYS, type Weekday } from '../../api/constants.ts';
import type { TimeWindow } from '../../api/policy.ts';
import type { PodView } from '../pod.ts';
import type { Finding } from '../violation.ts';
import type { RuleFamily } from './rule-family.ts';

/** A window with its time zone resolved once: Intl formatters are costly to build, cheap to use. */
export interface CompiledWindow {
  window: TimeWindow;
  days: ReadonlySet<Weekday>;
  startMinute: number;
  endMinute: number;
  format: Intl.DateTimeFormat;
}

export type WindowResult =
  { ok: true; window: CompiledWindow } | { ok: false; field: string; message: string };

function minuteOfDay(hhmm: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

export function compileWindow(window: TimeWindow): WindowResult {
  const startMinute = minuteOfDay(window.start);
  if (startMinute === undefined)
    return { ok: false, field: 'start', message: `"${window.start}" is not a time HH:MM` };
  const endMinute = minuteOfDay(window.end);
  if (endMinute === undefined)
    return { ok: false, field: 'end', message: `"${window.end}" is not a time HH:MM` };
  if (startMinute === endMinute)
    return { ok: false, field: 'end', message: 'end equals start: the window is empty' };
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: window.timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    return { ok: false, field: 'timeZone', message: `unknown IANA time zone "${window.timeZone}"` };
  } // Intl also takes offsets ("+05:00") and any letter case ("utc"); the contract says IANA names,
  // and an offset has no daylight saving time, which is what a zone name is for.
  const resolved = format.resolvedOptions().timeZone;
  if (
    /^[+-]/.test(window.timeZone) ||
    (resolved !== window.timeZone && resolved.toLowerCase() === window.timeZone.toLowerCase())
  ) {
    return {
      ok: false,
      field: 'timeZone',
      message: `"${window.timeZone}" is not an IANA time zone name${/^[+-]/.test(window.timeZone) ? ' (offsets are not zones: use e.g. Asia/Kolkata)' : `; did you mean "${resolved}"?`}`,
    };
  }

  return {
    ok: true,
    window: { window, days: new Set(window.days), startMinute, endMinute, format },
  };
}

function localTime(w: CompiledWindow, at: Date): { day: Weekday; minute: number } {
  let day: Weekday = 'Mon';
  let hour = 0;
  let minute = 0;
  for (const part of w.format.formatToParts(at)) {
    if (part.type === 'weekday') day = part.value as Weekday;
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

function previousDay(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7] as Weekday;
}

/** Is `at` inside the window? An end before the start crosses midnight; its days name the start day. */
export function inWindow(w: CompiledWindow, at: Date): boolean {
  const { day, minute } = localTime(w, at);
  if (w.startMinute < w.endMinute)
    return w.days.has(day) && minute >= w.startMinute && minute < w.endMinute;
  if (minute >= w.startMinute) return w.days.has(day);
  return minute < w.endMinute && w.days.has(previousDay(day));
}

/**
 * schedule.window: the pod must be created inside at least one allowed window. The creation time is
 * the object's creationTimestamp only when the caller trusts it (the operator: the API server sets
 * it); otherwise, as for a manifest that anyone could have written, it is the evaluation time.
 */
function checkScheduleWindow(
  pod: PodView,
  windows: readonly CompiledWindow[],
  now: Date,
  trustCreationTimestamp = false,
): Finding[] {
  if (windows.length === 0) return [];
  const stamp = trustCreationTimestamp ? pod.metadata.creationTimestamp : undefined;
  const created = stamp ? new Date(stamp) : now;
  const at = Number.isNaN(created.getTime()) ? now : created;
  if (windows.some((w) => inWindow(w, at))) return [];
  return [
    {
      rule: 'schedule.window',
      path: 'metadata.creationTimestamp',
      message: `${at === now ? 'evaluated' : 'created'} at ${at.toISOString()}, outside every allowed window`,
    },
  ];
}

/** spec.rules.schedule: schedule.window, with time zones resolved once. */
export const scheduleRules: RuleFamily<readonly CompiledWindow[]> = {
  block: 'schedule',
  compile: (spec, problems) => {
    const windows: CompiledWindow[] = [];
    spec.rules.schedule?.allowedWindows.forEach((w, i) => {
      const r = compileWindow(w);
      if (r.ok) windows.push(r.window);
      else
        problems.push({
          path: `spec.rules.schedule.allowedWindows[${i}].${r.field}`,
          message: r.message,
        });
    });
    return windows.length > 0 ? windows : undefined;
  },
  judge: (pod, windows, ctx, out) => {
    for (const f of checkScheduleWindow(pod, windows, ctx.now, ctx.trustCreationTimestamp))
      out.push(f);
  },
};
