// Times as the API server writes them: metav1.Time is RFC 3339 in whole seconds, metav1.MicroTime
// has exactly six fractional digits. The server refuses a MicroTime with milliseconds (which is
// what @kubernetes/client-node 2.0.1 sends), so both are formatted here by hand.

/** RFC 3339 in seconds, as Kubernetes writes metav1.Time. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 with exactly 6 fractional digits and 'Z', as metav1.MicroTime serialises. */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.max(0, Math.floor((ms - whole) * 1000)));
  const iso = new Date(whole).toISOString(); // throws RangeError on non-finite input
  return iso.replace(/\.(\d{3})Z$/, `.$1${String(micros).padStart(3, '0')}Z`);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A valid RFC 3339 time (shape and calendar): anything someone else wrote is checked first. */
export function isRfc3339(s: string): boolean {
  return RFC3339.test(s) && !Number.isNaN(Date.parse(s));
}
