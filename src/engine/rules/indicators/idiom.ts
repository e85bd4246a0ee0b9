// A named idiom: cheap substring tokens that gate a few linear-time regexes which must all match.
// The tokens keep the common case (an ordinary command line) to a handful of `includes` calls; the
// conjunction stands in for lookahead, which RE2 lacks (socket AND connect AND dup2, in any order).
import { mustCompile, type SafeRegex } from '../../safe-regex.ts';
import { excerpt } from './shell-text.ts';

export interface Idiom {
  /** What the message calls it: "netcat with -e (runs a program on the connection)". */
  label: string;
  /** Lower-case substrings; the idiom is tried only if the lower-cased text holds at least one. */
  tokens: readonly string[];
  /** Regexes that must all match; the first one's match is quoted as evidence. */
  all: readonly SafeRegex[];
}

/** What a detector found: the idiom's label and the attacker text that showed it, ready to quote. */
export interface Detection {
  label: string;
  evidence: string;
}

export function idiom(label: string, tokens: readonly string[], ...patterns: string[]): Idiom {
  return { label, tokens, all: patterns.map(mustCompile) };
}

export function hasAny(lower: string, tokens: readonly string[]): boolean {
  for (const t of tokens) if (lower.includes(t)) return true;
  return false;
}

/** The first idiom present in `text` (`lower` is its lower-cased twin, for the token gate). */
export function firstIdiom(
  idioms: readonly Idiom[],
  text: string,
  lower: string,
): Detection | undefined {
  for (const i of idioms) {
    if (!hasAny(lower, i.tokens)) continue;
    if (!i.all.every((re) => re.test(text))) continue;
    const m = i.all[0]?.find(text);
    return { label: i.label, evidence: excerpt((m?.text ?? '').trim()) };
  }
  return undefined;
}
