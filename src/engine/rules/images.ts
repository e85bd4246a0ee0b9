import type { ImagesRule } from '../../api/policy.ts';
import { anyGlob, type Glob } from '../glob.ts';
import { clip, hasAllowedPrefix, parseImage } from '../image-ref.ts';
import { allContainers, type PodView } from '../pod.ts';
import type { Finding } from '../violation.ts';

export interface CompiledImagesRule {
  settings: ImagesRule;
  denied: Glob[];
}

/** image.registry, image.denied, image.latestTag, image.digest, judged on normalised references. */
export function checkImages(pod: PodView, rule: CompiledImagesRule): Finding[] {
  const { settings } = rule;
  const out: Finding[] = [];
  for (const { container, path } of allContainers(pod.spec)) {
    const at = `${path}.image`;
    const base = { container: container.name, path: at };
    const parsed = parseImage(container.image);
    if (!parsed.ok) {
      // An unparseable reference can't be shown to be in an allowed registry.
      if (settings.allowedRegistries.length > 0) {
        out.push({
          ...base,
          rule: 'image.registry',
          message: `image "${clip(container.image)}" can't be parsed: ${parsed.message}`,
        });
      }
      continue;
    }
    const { normalized, tag, digest } = parsed.ref;
    if (
      settings.allowedRegistries.length > 0 &&
      !settings.allowedRegistries.some((p) => hasAllowedPrefix(normalized, p))
    ) {
      out.push({
        ...base,
        rule: 'image.registry',
        message: `image ${clip(normalized)} is not from an allowed registry`,
      });
    }
    if (anyGlob(rule.denied, normalized)) {
      const g = rule.denied.find((d) => d.matches(normalized));
      out.push({
        ...base,
        rule: 'image.denied',
        message: `image ${clip(normalized)} matches denied image "${g?.source}"`,
      });
    }
    // A digest pins the content whatever the tag says, so only an unpinned latest is flagged.
    if (
      settings.disallowLatestTag &&
      digest === undefined &&
      (tag === undefined || tag === 'latest')
    ) {
      out.push({
        ...base,
        rule: 'image.latestTag',
        message: `image ${clip(normalized)} ${tag === undefined ? 'has no tag (latest)' : 'uses the latest tag'}`,
      });
    }
    if (settings.requireDigest && digest === undefined) {
      out.push({
        ...base,
        rule: 'image.digest',
        message: `image ${clip(normalized)} is not pinned by digest`,
      });
    }
  }
  return out;
}

/** All images of the pod, normalised where they parse; for `exclude.images`. */
export function normalizedImages(pod: PodView): string[] {
  return allContainers(pod.spec).map(({ container }) => {
    const p = parseImage(container.image);
    return p.ok ? p.ref.normalized : container.image;
  });
}
