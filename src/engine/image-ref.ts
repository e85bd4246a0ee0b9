// Container image references as the container runtime resolves them (the grammar of
// distribution/reference): `alpine` is `docker.io/library/alpine:latest`, a first component with a
// dot, a colon or `localhost` is a registry host, a tag follows the last colon after the last slash,
// and a digest follows `@`. Rules compare normalised references so `alpine` and
// `index.docker.io/library/alpine` can't slip past a list written for `docker.io/library/`.
import { shownText } from './untrusted-text.ts';

export interface ImageRef {
  /** Registry host, with port if any: `docker.io`, `registry.local:5000`. */
  registry: string;
  /** Repository path without the registry: `library/alpine`. */
  repository: string;
  /** Tag as written, or undefined. */
  tag?: string;
  /** `sha256:…` digest, or undefined. */
  digest?: string;
  /** `registry/repository[:tag][@digest]`, with `:latest` filled in only when neither tag nor digest is given. */
  normalized: string;
}

export type ParsedImage = { ok: true; ref: ImageRef } | { ok: false; message: string };

const DOCKER_HUB = 'docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
// Anchored, no nested quantifiers: linear even on attacker-written input (lengths are bounded too).
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const MAX_REFERENCE = 4096;

// A cluster runs thousands of pods from a few hundred images: parse each reference once. Bounded, and
// emptied when full, so an attacker cycling unique names costs memory of at most the bound.
const MAX_CACHED = 4096;
const cache = new Map<string, ParsedImage>();

export function parseImage(image: string): ParsedImage {
  let parsed = cache.get(image);
  if (parsed === undefined) {
    parsed = parseUncached(image);
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(image, parsed);
  }
  return parsed;
}

function parseUncached(image: string): ParsedImage {
  if (image.length === 0) return { ok: false, message: 'image is empty' };
  if (image.length > MAX_REFERENCE) return { ok: false, message: 'image reference is too long' };
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return { ok: false, message: `invalid digest "${clip(digest)}"` };
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return { ok: false, message: `invalid tag "${clip(tag)}"` };
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      // Hosts are case-insensitive (DNS): EVIL.io is evil.io, for deniedImages too.
      registry = first.toLowerCase();
      repository = rest.slice(slash + 1);
      if (!HOST.test(registry))
        return { ok: false, message: `invalid registry host "${clip(registry)}"` };
    }
  }
  if (HUB_ALIASES.has(registry.toLowerCase())) {
    registry = DOCKER_HUB;
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  if (repository.length === 0 || !repository.split('/').every((c) => PATH_COMPONENT.test(c))) {
    return { ok: false, message: `invalid repository "${clip(repository)}"` };
  }
  const name = `${registry}/${repository}`;
  const normalized =
    tag === undefined && digest === undefined
      ? `${name}:latest`
      : `${name}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  return { ok: true, ref: { registry, repository, tag, digest, normalized } };
}

/**
 * An allowedRegistries entry in the form references take after parseImage: the host lower-cased and
 * Docker Hub's aliases written as docker.io, so `Index.Docker.io/library/` admits what it says.
 */
export function normalizeRegistryPrefix(prefix: string): string {
  const slash = prefix.indexOf('/');
  const host = (slash < 0 ? prefix : prefix.slice(0, slash)).toLowerCase();
  const rest = slash < 0 ? '' : prefix.slice(slash);
  return `${HUB_ALIASES.has(host) ? DOCKER_HUB : host}${rest}`;
}

/**
 * Registry allow-list prefixes. A prefix that ends in `/` is a plain prefix; any other prefix must end
 * on a boundary, so `registry.example.com` admits `registry.example.com/app` but not
 * `registry.example.com.evil.io/app`.
 */
export function hasAllowedPrefix(normalized: string, prefix: string): boolean {
  if (!normalized.startsWith(prefix)) return false;
  if (prefix.endsWith('/') || normalized.length === prefix.length) return true;
  const next = normalized[prefix.length];
  return next === '/' || next === ':' || next === '@';
}

/** Attacker text in messages: short, one line, nothing that could forge terminal output. */
export function clip(s: string, max = 80): string {
  return shownText(s, max);
}
