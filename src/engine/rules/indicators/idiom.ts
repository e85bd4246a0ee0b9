// A named idiom: cheap substring gates in front of a few linear-time regexes that must all match.
// The gates keep the common case (an ordinary command line) to one pass over the text; the regex
// conjunction stands in for lookahead, which RE2 lacks (socket AND connect AND dup2, in any order).
import { mustCompile, type SafeRegex } from '../../safe-regex.ts';
import { excerpt } from './shell-text.ts';

/** What a detector found: the idiom's label and the attacker text that showed it, ready to quote. */
export interface Detection {
  label: string;
  evidence: string;
}

export interface IdiomDef {
  /** What the message calls it: "netcat running a program on the connection". */
  label: string;
  /** Lower-case ASCII substrings: the text must hold one of each list before any regex runs. */
  gates: readonly (readonly string[])[];
  /** RE2 patterns that must all match; the first one's match is quoted as evidence. */
  patterns: readonly string[];
}

const ASCII = 128;

/**
 * Aho-Corasick over lower-case ASCII tokens: one pass over the text says which token groups occur
 * (bit i for group i), ASCII letters folded to lower case on the fly. Linear and allocation-free.
 * Characters that occur in no token share one column, which keeps the table small enough to stay
 * in cache (the tables are states x alphabet).
 */
export class TokenGate {
  readonly #cls: Uint8Array;
  readonly #width: number;
  readonly #next: Uint16Array;
  readonly #out: Int32Array;

  constructor(groups: readonly (readonly string[])[]) {
    if (groups.length > 31) throw new Error('at most 31 token groups per gate');
    const cls = new Uint8Array(ASCII);
    let width = 1; // column 0: characters in no token
    for (const token of groups.flat()) {
      for (let i = 0; i < token.length; i++) {
        const c = token.charCodeAt(i);
        if (c >= ASCII || (c >= 65 && c <= 90))
          throw new Error(`gate token not lower ASCII: ${token}`);
        if (cls[c] === 0) cls[c] = width++;
      }
    }
    for (let c = 65; c <= 90; c++) cls[c] = cls[c + 32] as number;
    const next: number[][] = [new Array<number>(width).fill(-1)];
    const out: number[] = [0];
    groups.forEach((tokens, bit) => {
      for (const token of tokens) {
        let s = 0;
        for (let i = 0; i < token.length; i++) {
          const k = cls[token.charCodeAt(i)] as number;
          const row = next[s] as number[];
          if (row[k] === -1) {
            row[k] = next.length;
            next.push(new Array<number>(width).fill(-1));
            out.push(0);
          }
          s = row[k] as number;
        }
        out[s] = (out[s] as number) | (1 << bit);
      }
    });
    if (next.length > 0xffff) throw new Error('too many gate states');
    // Breadth-first: complete every transition through the failure links, inherit their outputs.
    const fail = new Array<number>(next.length).fill(0);
    const queue: number[] = [];
    const root = next[0] as number[];
    for (let k = 0; k < width; k++) {
      if (root[k] === -1) root[k] = 0;
      else queue.push(root[k] as number);
    }
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q] as number;
      const row = next[s] as number[];
      const failRow = next[fail[s] as number] as number[];
      out[s] = (out[s] as number) | (out[fail[s] as number] as number);
      for (let k = 0; k < width; k++) {
        const t = row[k] as number;
        if (t === -1) row[k] = failRow[k] as number;
        else {
          fail[t] = failRow[k] as number;
          queue.push(t);
        }
      }
    }
    this.#cls = cls;
    this.#width = width;
    this.#next = Uint16Array.from(next.flat());
    this.#out = Int32Array.from(out);
  }

  /** Bit i is set when some token of group i occurs in `text` (ASCII case-insensitively). */
  scan(text: string): number {
    const cls = this.#cls;
    const width = this.#width;
    const next = this.#next;
    const out = this.#out;
    let s = 0;
    let mask = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      s = c < ASCII ? (next[s * width + (cls[c] as number)] as number) : 0;
      mask |= out[s] as number;
    }
    return mask;
  }

  /** `scan`, or -1 as soon as `text` holds a non-ASCII character. */
  scanAscii(text: string): number {
    const cls = this.#cls;
    const width = this.#width;
    const next = this.#next;
    const out = this.#out;
    let s = 0;
    let mask = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= ASCII) return -1;
      s = next[s * width + (cls[c] as number)] as number;
      mask |= out[s] as number;
    }
    return mask;
  }

  /**
   * `scan` (or with `ascii`, `scanAscii`) of `[...first, ...second].join(' ')`, without building
   * the text: most command lines match no token, and joining them cost more than scanning. With
   * `unquoted`, the text scanned is the one normalizeCommand makes: quotes and backslashes are
   * skipped as it drops them; a word holding `IFS` (which it rewrites) gives -2 and the caller
   * must normalise the text itself.
   */
  scanWords(
    first: readonly string[],
    second: readonly string[],
    ascii: boolean,
    unquoted: boolean,
  ): number {
    const cls = this.#cls;
    const width = this.#width;
    const next = this.#next;
    const out = this.#out;
    const space = cls[32] as number;
    let s = 0;
    let mask = 0;
    const n = first.length + second.length;
    for (let w = 0; w < n; w++) {
      const word = (w < first.length ? first[w] : second[w - first.length]) as string;
      if (w > 0) {
        s = next[s * width + space] as number;
        mask |= out[s] as number;
      }
      if (unquoted && word.includes('IFS')) return -2;
      for (let i = 0; i < word.length; i++) {
        const c = word.charCodeAt(i);
        if (c >= ASCII) {
          if (ascii) return -1;
          s = 0;
          continue;
        }
        if (unquoted && (c === 39 || c === 34 || c === 92)) continue; // ', ", backslash
        s = next[s * width + (cls[c] as number)] as number;
        mask |= out[s] as number;
      }
    }
    return mask;
  }
}

interface Idiom {
  label: string;
  required: number;
  all: readonly SafeRegex[];
}

/** A family's idioms behind one shared gate, plus named extra groups for its own string logic. */
export class IdiomSet {
  readonly #gate: TokenGate;
  readonly #idioms: Idiom[] = [];
  readonly #extra = new Map<string, number>();
  /** Tokens of which any text this set could match holds at least one: a gate for the family. */
  readonly tokens: readonly string[];

  constructor(defs: readonly IdiomDef[], extra: Readonly<Record<string, readonly string[]>> = {}) {
    const groups: (readonly string[])[] = [];
    for (const d of defs) {
      let required = 0;
      for (const g of d.gates) {
        required |= 1 << groups.length;
        groups.push(g);
      }
      this.#idioms.push({ label: d.label, required, all: d.patterns.map(mustCompile) });
    }
    for (const [name, tokens] of Object.entries(extra)) {
      this.#extra.set(name, 1 << groups.length);
      groups.push(tokens);
    }
    this.#gate = new TokenGate(groups);
    const first = defs.map((d) => d.gates[0] ?? []);
    this.tokens = [...new Set([...first, ...Object.values(extra)].flat())];
  }

  scan(text: string): number {
    return this.#gate.scan(text);
  }

  /** Did `scan` see a token of the named extra group? */
  has(mask: number, name: string): boolean {
    return (mask & (this.#extra.get(name) ?? 0)) !== 0;
  }

  /** The first idiom present in `text`, given its `scan` mask. */
  first(text: string, mask: number): Detection | undefined {
    for (const i of this.#idioms) {
      if ((mask & i.required) !== i.required) continue;
      if (!i.all.every((re) => re.test(text))) continue;
      const m = i.all[0]?.find(text);
      return { label: i.label, evidence: excerpt((m?.text ?? '').trim()) };
    }
    return undefined;
  }
}

/** Shorthand for an idiom behind one list of gate tokens. */
export function idiom(label: string, tokens: readonly string[], ...patterns: string[]): IdiomDef {
  return { label, gates: [tokens], patterns };
}
