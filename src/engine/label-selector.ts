import type { LabelSelector } from '../api/policy.ts';

/**
 * metav1.LabelSelector semantics: every matchLabels pair and every expression must hold; an empty
 * selector matches everything.
 */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  for (const e of selector.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !e.values.includes(labels[e.key] as string)) return false;
        break;
      case 'NotIn':
        if (has && e.values.includes(labels[e.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** True when the selector is absent or selects everything. */
export function selectsAll(selector: LabelSelector | undefined): boolean {
  return (
    !selector ||
    (Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0)
  );
}
