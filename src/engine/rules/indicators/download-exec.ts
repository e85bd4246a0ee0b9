// Download and execute (ingress tool transfer): fetched or decoded content that ends up run.
// Downloading alone is not an indicator (init containers fetch configs, probes curl health
// endpoints); the content has to reach an interpreter's stdin, or the fetched file has to be run.
import { IdiomSet, idiom, type Detection } from './idiom.ts';
import {
  basename,
  effectiveCommand,
  excerpt,
  interpreterOf,
  splitCommands,
  type Segment,
} from './shell-text.ts';

const FETCH = String.raw`(?:\S*/)?(?:curl|wget)\b`;
// `\s*` before the substitution: `bash<(curl …)` needs no space.
const RUNNER = String.raw`(?:\b(?:(?:ba|da|k|z|a)?sh|eval|source|python[0-9.]*|perl|ruby|php|node)\b(?:\s+-\w+)*\s*|(?:^|[\s;&|])\.\s+)`;

const SUBSTITUTION = ['$(', '<(', '`'];

const IDIOMS = new IdiomSet(
  [
    {
      label: 'downloaded script run through command or process substitution',
      gates: [['curl', 'wget'], SUBSTITUTION],
      patterns: [String.raw`${RUNNER}(?:[$<]\(|` + '`' + String.raw`)\s*${FETCH}`],
    },
    {
      label: 'base64-decoded script run through command substitution',
      gates: [['base64'], SUBSTITUTION],
      patterns: [String.raw`${RUNNER}[$<]\([^)]*\bbase64\s+(?:-\w+\s+)*(?:-d|-D|--decode)\b`],
    },
    idiom(
      'python fetching code and executing it',
      ['urlopen', 'urllib', 'urlretrieve', 'requests.get'],
      String.raw`\bpython[0-9.]*\b.*`,
      String.raw`\b(?:urlopen|urlretrieve|urllib|requests\.get)\b`,
      String.raw`\b(?:exec|eval)\s*\(|\bos\.(?:system|popen|exec\w*|chmod)\b|\bsubprocess\b`,
    ),
    idiom(
      'perl fetching code and executing it',
      ['lwp', 'http::tiny'],
      String.raw`\bperl\b.*`,
      String.raw`LWP::|HTTP::Tiny`,
      String.raw`\b(?:system|exec|eval)\b`,
    ),
    idiom(
      'php fetching code and executing it',
      ['file_get_contents', 'copy('],
      String.raw`\bphp[0-9.]*\b.*`,
      String.raw`(?i)\b(?:file_get_contents|copy)\s*\(\s*(?:https?|ftp)://`,
      String.raw`\b(?:eval|system|exec|shell_exec|passthru|include|require)\b`,
    ),
    idiom(
      'PowerShell download cradle',
      ['downloadstring', 'iwr', 'invoke-webrequest', 'irm', 'invoke-restmethod'],
      String.raw`(?i)\b(?:iex|invoke-expression)\b.*\b(?:downloadstring|iwr|irm|invoke-webrequest|invoke-restmethod)\b|\b(?:downloadstring|iwr|irm|invoke-webrequest|invoke-restmethod)\b.*\|\s*(?:iex|invoke-expression)\b`,
    ),
  ],
  { producer: ['curl', 'wget', 'base64', 'ftpget', 'tftp'] },
);

interface Command {
  op: string;
  name: string;
  argv: string[];
  words: string[];
}

type Producer = 'download' | 'decode';

function producerOf(c: Command): Producer | undefined {
  const name = basename(c.name);
  if (name === 'curl' || name === 'wget' || name === 'ftpget' || name === 'tftp') return 'download';
  if (name === 'base64' && c.argv.some((a) => a === '-d' || a === '-D' || a === '--decode')) {
    return 'decode';
  }
  return undefined;
}

/** Where a download lands: `-o F`, `-OF`, `--output=F`, `> F`, or wget's default (the URL's name). */
function outputOf(c: Command): string | undefined {
  const curl = basename(c.name) === 'curl';
  let url: string | undefined;
  let remoteName = !curl; // wget saves under the URL's name unless told otherwise
  for (let i = 0; i < c.argv.length; i++) {
    const a = c.argv[i] ?? '';
    if (a.startsWith('>')) {
      const target = a.startsWith('>>') ? a.slice(2) : a.slice(1);
      return target || c.argv[i + 1];
    }
    if (a === '--output' || a === '--output-document') return c.argv[i + 1];
    if (a.startsWith('--output=') || a.startsWith('--output-document=')) return a.split('=')[1];
    if (a === '--remote-name') remoteName = true;
    if (a.startsWith('-') && !a.startsWith('--') && a.length > 1) {
      const flag = a.indexOf(curl ? 'o' : 'O');
      if (flag > 0) {
        const value = a.slice(flag + 1) || c.argv[i + 1];
        return value === '-' ? undefined : value;
      }
      if (curl && a.includes('O')) remoteName = true;
      continue;
    }
    if (a.includes('://') || url === undefined) url = a;
  }
  if (!remoteName || url === undefined) return undefined;
  const end = [url.indexOf('?'), url.indexOf('#')].filter((n) => n >= 0);
  return basename(url.slice(0, end.length > 0 ? Math.min(...end) : url.length)) || undefined;
}

/** Options that give an interpreter its program inline, so stdin is only data. */
const INLINE_CODE: Readonly<Record<string, readonly string[]>> = {
  sh: ['c'],
  python: ['c', 'm'],
  perl: ['e', 'E'],
  ruby: ['e'],
  node: ['e', 'p'],
  nodejs: ['e', 'p'],
  php: ['r'],
  pwsh: ['c', 'C', 'f', 'F'],
  lua: ['e'],
};

/** Does the command run code from its stdin? `sh`, `bash -s -- x`, `python3 -`; not `sh -c`, `python x.py`. */
function runsStdin(c: Command): string | undefined {
  const family = interpreterOf(c.name);
  if (family === undefined) return undefined;
  for (let i = 0; i < c.argv.length; i++) {
    const a = c.argv[i] ?? '';
    if (a === '-' || a === '/dev/stdin' || a === '--') return basename(c.name);
    if (a.startsWith('--')) {
      if (a === '--eval' || a === '--command') return undefined;
      continue;
    }
    if (a.startsWith('-')) {
      if ((INLINE_CODE[family] ?? []).some((f) => a.includes(f))) {
        // `… | xargs sh -c`: no inline program follows, so the piped data becomes the program.
        return i === c.argv.length - 1 && basename(c.words[0] ?? '') === 'xargs'
          ? basename(c.name)
          : undefined;
      }
      continue;
    }
    if (isRedirect(a)) continue;
    return undefined; // a script file: stdin is its data, not its code
  }
  return basename(c.name);
}

function isRedirect(a: string): boolean {
  const first = a.charAt(0);
  return (
    first === '>' ||
    first === '<' ||
    ('0123456789'.includes(first) && '<>'.includes(a.charAt(1) || ' '))
  );
}

/** The files `chmod` makes executable for their owner: `+x`, `u+x`, `755`, `0700`; else none. */
function madeExecutable(argv: readonly string[]): string[] {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  const mode = argv[at] ?? '';
  const symbolic = mode.includes('+') && (mode.includes('x') || mode.includes('X'));
  const octal =
    mode.length >= 3 &&
    mode.length <= 4 &&
    [...mode].every((ch) => '01234567'.includes(ch)) &&
    '1357'.includes(mode.charAt(mode.length - 3));
  if (!symbolic && !octal) return [];
  return argv.slice(at + 1).filter((a) => !a.startsWith('-'));
}

/** The file a command runs: `./x`, `/tmp/x`, `x` itself, or the script of `sh x` / `python x` / `. x`. */
function executedFile(c: Command): string | undefined {
  const name = basename(c.name);
  if (name === '.' || name === 'source' || interpreterOf(c.name) !== undefined) {
    const script = c.argv.find((a) => !a.startsWith('-'));
    return script === undefined ? undefined : basename(script);
  }
  return name || undefined;
}

function shown(cmds: readonly Command[], from: number, to: number): string {
  const parts: string[] = [];
  for (let i = from; i <= to; i++) {
    const c = cmds[i];
    if (c) parts.push(`${i > from ? `${c.op} ` : ''}${[c.name, ...c.argv].join(' ')}`);
  }
  return excerpt(parts.join(' '));
}

/**
 * Follows the data through the command line: a fetch piped into an interpreter, or a fetched file
 * (made executable, perhaps) that a later command runs. One pass over the commands.
 */
function detectChains(segments: readonly Segment[]): Detection | undefined {
  const cmds: Command[] = segments.map((s) => ({
    op: s.op,
    ...effectiveCommand(s.words),
    words: s.words,
  }));
  // For each command, the nearest later interpreter reached through pipes only (`|`, or `||`
  // between alternative fetches as in `(curl x || wget x) | sh`), computed back to front.
  const pipedTo: number[] = new Array<number>(cmds.length).fill(-1);
  for (let i = cmds.length - 2; i >= 0; i--) {
    const next = cmds[i + 1];
    if (!next || (next.op !== '|' && next.op !== '||')) continue;
    pipedTo[i] = next.op === '|' && runsStdin(next) !== undefined ? i + 1 : (pipedTo[i + 1] ?? -1);
  }
  const fetched = new Set<string>();
  let firstProducer = -1;
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[i];
    if (!c) continue;
    const producer = producerOf(c);
    if (producer !== undefined) {
      const to = pipedTo[i] ?? -1;
      const target = cmds[to];
      if (target) {
        const what = producer === 'download' ? 'downloaded script' : 'base64-decoded script';
        return { label: `${what} piped into ${runsStdin(target)}`, evidence: shown(cmds, i, to) };
      }
      const out = outputOf(c);
      if (out !== undefined) fetched.add(basename(out));
      if (firstProducer < 0 && (producer === 'download' || out !== undefined)) firstProducer = i;
      continue;
    }
    if (firstProducer < 0) continue;
    if (basename(c.name) === 'chmod') {
      for (const file of madeExecutable(c.argv)) fetched.add(basename(file));
      continue;
    }
    const file = executedFile(c);
    if (file !== undefined && fetched.has(file)) {
      return {
        label: `downloaded file ${excerpt(file)} executed`,
        evidence: shown(cmds, firstProducer, i),
      };
    }
  }
  return undefined;
}

/**
 * Can the command line hand a fetch to anything at all? It needs a pipe (not `||`), a redirect,
 * or an option naming an output file (`-o`, `-sLo`, `-O`, `--output`); wget saves by default.
 * Most probes (`curl -fsS http://localhost/ready || exit 1`) stop here, before any splitting.
 */
function mayChain(text: string): boolean {
  for (let i = text.indexOf('|'); i >= 0; i = text.indexOf('|', i + 2)) {
    if (text.charAt(i + 1) !== '|') return true;
  }
  if (text.includes('>') || text.includes('wget') || text.includes('WGET')) return true;
  for (let i = text.indexOf(' -'); i >= 0; i = text.indexOf(' -', i + 2)) {
    for (let j = i + 2; j < text.length; j++) {
      const ch = text.charAt(j);
      if (ch === 'o' || ch === 'O') return true;
      if (ch === ' ' || ch === '=') break;
    }
  }
  return false;
}

/** Any text that can match holds one of these (see IdiomSet.tokens). */
export const downloadExecTokens = IDIOMS.tokens;

export function detectDownloadExec(text: string): Detection | undefined {
  const mask = IDIOMS.scan(text);
  const found = IDIOMS.first(text, mask);
  if (found) return found;
  if (!IDIOMS.has(mask, 'producer') || !mayChain(text)) return undefined;
  return detectChains(splitCommands(text));
}
