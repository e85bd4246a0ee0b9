import type { HostPathsRule } from '../../api/policy.ts';
import { clip } from '../image-ref.ts';
import type { PodView, Volume } from '../pod.ts';
import type { Finding } from '../violation.ts';
import type { RuleFamily } from './rule-family.ts';

/**
 * Host paths that hand a container the node: its filesystem, credentials, the kubelet's state or
 * the container runtime's socket. docs/api.md section 3; `/run` and `/var/run` are the same directory on
 * every modern distribution, so both spellings are listed.
 */
export const SENSITIVE_HOST_PATHS: readonly string[] = [
  '/',
  '/proc',
  '/etc',
  '/root',
  '/home',
  '/var/lib/kubelet',
  '/etc/kubernetes',
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/run/containerd/containerd.sock',
  '/var/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock',
  '/run/crio/crio.sock',
  // Beyond the original design's list, the same escape by other doors: kernel tunables and the boot partition,
  // the container runtimes' own state (every container's root filesystem), and k3s's socket.
  '/sys',
  '/boot',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/run/k3s/containerd/containerd.sock',
  '/var/run/k3s/containerd/containerd.sock',
];

/** Lexical clean-up as the kernel would resolve it: `//`, `.`, `..` and trailing slashes. */
export function cleanPath(p: string): string {
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function isUnder(path: string, base: string): boolean {
  return base === '/' ? true : path === base || path.startsWith(`${base}/`);
}

/**
 * Why a mount exposes `protectedPath`, or undefined: mounting it or anything under it exposes it,
 * and so does mounting any directory above it (`/var` exposes `/var/lib/kubelet`). `/` itself is
 * only matched exactly, or every path would be under it.
 */
function exposure(mount: string, protectedPath: string): string | undefined {
  if (protectedPath === '/') return mount === '/' ? 'is the host root' : undefined;
  if (isUnder(mount, protectedPath)) return `is at or under ${protectedPath}`;
  if (isUnder(protectedPath, mount)) return `contains ${protectedPath}`;
  return undefined;
}

/** The protected paths of a rule, cleaned: compiled once per policy. */
export function hostPathList(rule: HostPathsRule): readonly string[] {
  return [...(rule.denySensitive ? SENSITIVE_HOST_PATHS : ['/']), ...rule.denied.map(cleanPath)];
}

/** Appends the hostPath findings of the pod against the rule's cleaned list. */
function hostPathsInto(pod: PodView, lists: readonly string[], out: Finding[]): void {
  const volumes = pod.spec.volumes;
  for (let i = 0; i < volumes.length; i++) {
    const v = volumes[i] as Volume;
    if (!v.hostPath) continue;
    const mount = cleanPath(v.hostPath.path);
    for (const p of lists) {
      const why = exposure(mount, p);
      if (why) {
        out.push({
          rule: 'hostPath.sensitive',
          path: `spec.volumes[${i}].hostPath.path`,
          message: `volume "${clip(v.name)}" mounts host path ${clip(mount)}, which ${why}`,
        });
        break;
      }
    }
  }
}

/** spec.rules.hostPaths: hostPath.sensitive. */
export const hostPathRules: RuleFamily<readonly string[]> = {
  block: 'hostPaths',
  compile: (spec) => (spec.rules.hostPaths ? hostPathList(spec.rules.hostPaths) : undefined),
  judge: (pod, paths, _ctx, out) => hostPathsInto(pod, paths, out),
};
