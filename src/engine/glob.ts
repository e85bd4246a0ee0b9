// Shell-style globs for names and image references: `*` is any run of characters (slashes included,
// so `*/kinsing*` matches `docker.io/library/kinsing:v1`), `?` is one character, everything else is
// literal. Matching is iterative with one backtrack point, O(pattern x input) at worst, because the
// input (an image reference, a namespace) can come from an attacker.

export interface Glob {
  readonly source: string;
  matches(input: string): boolean;
}

export function compileGlob(source: string): Glob {
  if (source === '*') return { source, matches: () => true };
  if (!source.includes('*') && !source.includes('?'))
    return { source, matches: (s) => s === source };
  return { source, matches: (s) => globMatch(source, s) };
}

function globMatch(p: string, s: string): boolean {
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const pc = p[pi];
    if (pc === '*') {
      starP = pi++;
      starS = si;
    } else if (pc !== undefined && (pc === '?' || pc === s[si])) {
      pi++;
      si++;
    } else if (starP >= 0) {
      // Let the last star absorb one more character and retry from there.
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

/** True if any glob matches; an empty list matches nothing. */
export function anyGlob(globs: readonly Glob[], input: string): boolean {
  for (const g of globs) if (g.matches(input)) return true;
  return false;
}
