import type { ImagesRule } from '../../api/policy.ts';
import { anyGlob, compileGlob, type Glob } from '../glob.ts';
import { clip, hasAllowedPrefix, normalizeRegistryPrefix, parseImage } from '../image-ref.ts';
import { allContainers, type PodView } from '../pod.ts';
import type { Finding } from '../violation.ts';
import type { RuleFamily } from './rule-family.ts';

export interface CompiledImagesRule {
  settings: ImagesRule;
  /** allowedRegistries, normalised like references (normalizeRegistryPrefix). */
  allowed: string[];
  denied: Glob[];
}

/** image.registry, image.denied, image.latestTag, image.digest, judged on normalised references. */
export function compileImagesRule(settings: ImagesRule): CompiledImagesRule {
  return {
    settings,
    allowed: settings.allowedRegistries.map(normalizeRegistryPrefix),
    denied: settings.deniedImages.map(compileGlob),
  };
}

function allowedRegistry(normalized: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (hasAllowedPrefix(normalized, p)) return true;
  return false;
}

interface Verdict {
  allowed: boolean;
  denied: Glob | undefined;
}

// Pods of one workload share their images: judge each normalised reference once per rule. Bounded
// like parseImage's cache, and tied to the compiled rule's lifetime.
const MAX_VERDICTS = 4096;
const verdicts = new WeakMap<CompiledImagesRule, Map<string, Verdict>>();

function verdict(rule: CompiledImagesRule, normalized: string): Verdict {
  let cache = verdicts.get(rule);
  if (cache === undefined) verdicts.set(rule, (cache = new Map()));
  let v = cache.get(normalized);
  if (v === undefined) {
    v = {
      allowed: allowedRegistry(normalized, rule.allowed),
      denied: anyGlob(rule.denied, normalized)
        ? rule.denied.find((d) => d.matches(normalized))
        : undefined,
    };
    if (cache.size >= MAX_VERDICTS) cache.clear();
    cache.set(normalized, v);
  }
  return v;
}

/** Appends the image findings of the pod. Paths and messages are built only for a finding. */
function imagesInto(pod: PodView, rule: CompiledImagesRule, out: Finding[]): void {
  const { settings } = rule;
  const registries = settings.allowedRegistries;
  for (const { container, path } of allContainers(pod.spec)) {
    const parsed = parseImage(container.image);
    if (!parsed.ok) {
      // An unparseable reference can't be shown to be in an allowed registry.
      if (registries.length > 0) {
        out.push({
          container: container.name,
          path: `${path}.image`,
          rule: 'image.registry',
          message: `image "${clip(container.image)}" can't be parsed: ${parsed.message}`,
        });
      }
      continue;
    }
    const { normalized, tag, digest } = parsed.ref;
    const v = verdict(rule, normalized);
    if (registries.length > 0 && !v.allowed) {
      out.push({
        container: container.name,
        path: `${path}.image`,
        rule: 'image.registry',
        message: `image ${clip(normalized)} is not from an allowed registry`,
      });
    }
    if (v.denied !== undefined) {
      const g = v.denied;
      out.push({
        container: container.name,
        path: `${path}.image`,
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
        container: container.name,
        path: `${path}.image`,
        rule: 'image.latestTag',
        message: `image ${clip(normalized)} ${tag === undefined ? 'has no tag (latest)' : 'uses the latest tag'}`,
      });
    }
    if (settings.requireDigest && digest === undefined) {
      out.push({
        container: container.name,
        path: `${path}.image`,
        rule: 'image.digest',
        message: `image ${clip(normalized)} is not pinned by digest`,
      });
    }
  }
}

/** All images of the pod, normalised where they parse; for `exclude.images`. */
export function normalizedImages(pod: PodView): string[] {
  return allContainers(pod.spec).map(({ container }) => {
    const p = parseImage(container.image);
    return p.ok ? p.ref.normalized : container.image;
  });
}

/** spec.rules.images: image.registry, image.denied, image.latestTag, image.digest. */
export const imageRules: RuleFamily<CompiledImagesRule> = {
  block: 'images',
  compile: (spec) => (spec.rules.images ? compileImagesRule(spec.rules.images) : undefined),
  judge: (pod, rule, _ctx, out) => imagesInto(pod, rule, out),
};
