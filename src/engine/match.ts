import { anyGlob } from './glob.ts';
import type { CompiledPolicy } from './compiled-policy.ts';
import { selectorMatches, selectsAll } from './label-selector.ts';
import type { PodView } from './pod.ts';
import { normalizedImages } from './rules/images.ts';

/** Does the policy judge this pod? `match` must select it and no `exclude` may exempt it. */
export function policyApplies(
  c: CompiledPolicy,
  pod: PodView,
  namespaceLabels: Readonly<Record<string, string>>,
): boolean {
  const { match, exclude } = c.policy.spec;
  const ns = pod.metadata.namespace;
  if (!anyGlob(c.namespaces, ns) || anyGlob(c.excludeNamespaces, ns)) return false;
  // Only a selector reads the labels: most policies have none, and then no label map is built.
  if (
    match.namespaceSelector &&
    !selectorMatches(match.namespaceSelector, withNameLabel(namespaceLabels, ns))
  )
    return false;
  // Labels cut to the sanitizer's bound: the policy judges the pod (and reports it oversized)
  // rather than let padding push the label a selector reads out of sight.
  if (!pod.metadata.labelsCut && !selectorMatches(match.podSelector, pod.metadata.labels))
    return false;
  // An empty exclude selector exempts nothing: "exclude everything" is never what a user means.
  return !isExempt(c, pod, !selectsAll(exclude.podSelector));
}

function isExempt(c: CompiledPolicy, pod: PodView, hasPodSelector: boolean): boolean {
  const { exclude } = c.policy.spec;
  if (
    hasPodSelector &&
    !pod.metadata.labelsCut &&
    selectorMatches(exclude.podSelector, pod.metadata.labels)
  )
    return true;
  if (c.excludeServiceAccounts.length > 0) {
    const sa = `${pod.metadata.namespace}/${pod.spec.serviceAccountName || 'default'}`;
    if (anyGlob(c.excludeServiceAccounts, sa)) return true;
  }
  if (c.excludeImages.length > 0) {
    // Exempt only if every image is: one trusted sidecar must not shelter an attacker's container.
    const images = normalizedImages(pod);
    if (images.length > 0 && images.every((img) => anyGlob(c.excludeImages, img))) return true;
  }
  return false;
}

/** The API server labels every namespace with its name; offline input may not carry the label. */
function withNameLabel(
  labels: Readonly<Record<string, string>>,
  ns: string,
): Readonly<Record<string, string>> {
  const key = 'kubernetes.io/metadata.name';
  return labels[key] === ns ? labels : { ...labels, [key]: ns };
}
