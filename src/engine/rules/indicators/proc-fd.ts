// CVE-2024-21626 ("Leaky Vessels"): runc leaked a host directory fd into the container, and a
// workingDir under /proc/self/fd/<n> made the process start with its cwd on the host filesystem.
// The path is resolved lexically first, so `/proc/self/./fd/8` and `//proc/1/../self/fd/8` count.

function isPid(s: string): boolean {
  if (s === 'self' || s === 'thread-self') return true;
  if (s === '' || s.length > 10) return false;
  for (const ch of s) if (!'0123456789'.includes(ch)) return false;
  return true;
}

/** `.` and `..` resolved, duplicate slashes dropped; relative paths are taken from `/`. */
export function resolvePath(path: string): string[] {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

/** The resolved path when `dir` is at or under a process's fd directory, else undefined. */
export function procFdPath(dir: string): string | undefined {
  if (!dir.includes('proc')) return undefined;
  const p = resolvePath(dir);
  if (p[0] !== 'proc' || !isPid(p[1] ?? '')) return undefined;
  // /proc/<pid>/fd/... or /proc/<pid>/task/<tid>/fd/...
  const fdAt = p[2] === 'task' && isPid(p[3] ?? '') ? 4 : 2;
  return p[fdAt] === 'fd' ? `/${p.join('/')}` : undefined;
}
