// Shell-ish text handling for the indicators: normalising away cheap evasions, splitting a command
// line into simple commands, and quoting attacker text safely into messages. Plain string scanning
// only: every function here is linear in its input.
import { shownText } from '../../untrusted-text.ts';

/**
 * What the indicators match against. Quotes and backslashes are dropped because the shell drops
 * them too (`c''url`, `c\url` and `"curl"` all run curl), and `$IFS` is the classic way to write a
 * space without one. Quoted separators then split where the shell would not; the idioms tolerate it.
 */
export function normalizeCommand(text: string): string {
  let t = text;
  if (t.includes('IFS')) t = t.replaceAll('${IFS}', ' ').replaceAll('$IFS', ' ');
  if (t.includes("'") || t.includes('"') || t.includes('\\')) {
    let out = '';
    for (const ch of t) if (ch !== "'" && ch !== '"' && ch !== '\\') out += ch;
    t = out;
  }
  return t;
}

const SHOWN_CHARS = 100;

/**
 * Untrusted text for a message: at most ~100 characters, double-quoted, unsafe characters as
 * `\uXXXX`. Backslashes stay as written so a regex reads as the user wrote it.
 */
export function excerpt(text: string): string {
  return `"${shownText(text, SHOWN_CHARS)}"`;
}

/** One simple command and the operator that joined it to the previous one. */
export interface Segment {
  /** `''` for the first command, else one of `;` `&&` `||` `|` `&` `\n` `(` `)`. */
  op: string;
  words: string[];
}

const OPERATOR_CHARS = ';&|\n()`';

/**
 * Splits a normalised command line at shell operators. Redirections stay in the words (`>`, `>f`);
 * subshell parentheses and backticks only separate, so `(curl x || wget y) | sh` gives
 * curl, `||` wget, `|` sh.
 */
export function splitCommands(text: string): Segment[] {
  const segments: Segment[] = [];
  let op = '';
  let words: string[] = [];
  let start = -1; // where the current word began, or -1 between words
  const endWord = (end: number): void => {
    if (start >= 0 && end > start) words.push(text.slice(start, end));
    start = -1;
  };
  const endSegment = (end: number, nextOp: string): void => {
    endWord(end);
    if (words.length > 0) segments.push({ op, words });
    // A lone `)` between `... y)` and `| sh` must not hide the pipe that follows it.
    if (words.length > 0 || nextOp !== ')') op = nextOp;
    words = [];
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const ch = code < 128 ? text.charAt(i) : '';
    if (ch === '' || !OPERATOR_CHARS.includes(ch)) {
      if (ch === ' ' || ch === '\t' || ch === '\r') endWord(i);
      else if (start < 0) start = i;
      continue;
    }
    const prev = i > 0 ? text.charAt(i - 1) : '';
    const next = text.charAt(i + 1);
    // `>&` / `<&` / `&>` are redirections, not background operators: part of the word.
    if (ch === '&' && (prev === '>' || prev === '<' || next === '>')) {
      if (start < 0) start = i;
      continue;
    }
    if ((ch === '&' || ch === '|') && next === ch) {
      endSegment(i, ch + ch);
      i++;
    } else if (ch === '(' && prev === '$' && start >= 0) {
      // `$(`: command substitution opens a new command, like `(`.
      endSegment(i - 1, '(');
    } else {
      endSegment(i, ch);
    }
  }
  endSegment(text.length, '');
  return segments;
}

/** Words that run the rest of the line as a command: `sudo curl`, `nohup ./x`, `timeout 5 sh`. */
const WRAPPERS = new Set([
  'sudo',
  'doas',
  'exec',
  'nohup',
  'setsid',
  'env',
  'command',
  'busybox',
  'nice',
  'time',
  'stdbuf',
  'timeout',
  // `… | xargs sh -c`: what arrives on stdin becomes the shell's arguments, so the script.
  'xargs',
]);

export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

/**
 * The command a segment runs, past `VAR=value` assignments and wrappers, with its arguments. A
 * `sh -c script` whose script was a separate argument (so now plain words) runs the script instead.
 */
export function effectiveCommand(words: readonly string[]): { name: string; argv: string[] } {
  let i = 0;
  for (;;) {
    while (i < words.length) {
      const w = words[i] ?? '';
      const skip =
        w.startsWith('-') || w.includes('=') || isNumberLike(w) || WRAPPERS.has(basename(w));
      if (!skip) break;
      i++;
    }
    const name = words[i] ?? '';
    if (interpreterOf(name) !== 'sh') return { name, argv: words.slice(i + 1) };
    let j = i + 1;
    while (j < words.length && isShortOption(words[j] ?? '') && !(words[j] ?? '').includes('c')) {
      // `-o pipefail`: the option's value is not the script.
      j += words[j] === '-o' || words[j] === '-O' ? 2 : 1;
    }
    // No script after -c (its words arrive later, as with xargs): the shell itself is what runs.
    if (j + 1 >= words.length || !isShortOption(words[j] ?? '')) {
      return { name, argv: words.slice(i + 1) };
    }
    i = j + 1;
  }
}

function isShortOption(w: string): boolean {
  return w.length > 1 && w.startsWith('-') && !w.startsWith('--');
}

function isNumberLike(w: string): boolean {
  if (w === '') return false;
  for (const ch of w) if (!'0123456789.smhd'.includes(ch)) return false;
  return '0123456789'.includes(w.charAt(0));
}

export const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'fish']);

const INTERPRETERS = ['python', 'perl', 'ruby', 'php', 'node', 'nodejs', 'pwsh', 'lua'];

/** `python3.11` -> `python`, `/usr/bin/perl5.36` -> `perl`: the interpreter family of a command. */
export function interpreterOf(name: string): string | undefined {
  const base = basename(name);
  if (SHELLS.has(base)) return 'sh';
  if (!'pPrRnNlL'.includes(base.charAt(0) || ' ')) return undefined;
  const lower = base.toLowerCase();
  if (SHELLS.has(lower)) return 'sh';
  for (const family of INTERPRETERS) {
    if (lower === family) return family;
    if (lower.startsWith(family) && isNumberLike(lower.slice(family.length))) return family;
  }
  return undefined;
}
