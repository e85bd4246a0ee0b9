// Reverse and bind shells: a shell or interpreter whose stdin/stdout is a network connection.
// Each idiom needs the binding, not just the socket: `</dev/tcp/db/5432` (a wait-for-port check),
// `nc -z db 5432` and `socket.connect(...)` in a probe are everyday commands.
import { IdiomSet, idiom, type Detection } from './idiom.ts';

/** A shell command word: sh, bash, /bin/dash, busybox ash, ... */
const SHELL = String.raw`\b(?:ba|da|k|z|a|c|tc|mk)?sh\b`;
/** Options of a shell that keep it reading commands from stdin (no -c). */
const STDIN_OPTS = String.raw`(?:\s+-[abd-zA-Z]+)*`;
const NET_TOOL = String.raw`(?:^|[\s/;&|(])(?:nc|ncat|netcat|nc\.traditional|nc\.openbsd|telnet|socat|openssl\s+s_client)\b`;

const IDIOMS = new IdiomSet([
  idiom(
    'shell bound to a /dev/tcp or /dev/udp socket',
    ['/dev/tcp/', '/dev/udp/'],
    // stdin/stdout of a shell redirected to or from the socket, the `0>&1` trick, a read loop
    // that runs each received line, or the socket's descriptor read into a shell's pipe.
    String.raw`${SHELL}${STDIN_OPTS}\s*[0-9]*(?:[<>]&?|&>)\s*/dev/(?:tcp|udp)/\S*|${SHELL}${STDIN_OPTS}\s+[0-9]*<&\s*[0-9]+|(?:^|[\s;])0\s*[<>]&\s*[0-9]+.*/dev/(?:tcp|udp)/|/dev/(?:tcp|udp)/.*\s0\s*[<>]&\s*[0-9]+|\bwhile\s+read\s+\w+\s*;?\s*do\s+\$\w+|<&\s*[0-9]+[^;&\n|]*\|\s*(?:\S*/)?${SHELL}`,
    String.raw`/dev/(?:tcp|udp)/`,
  ),
  idiom(
    'interactive shell (-i) with its input or output redirected',
    ['sh -i', 'sh -li', 'sh -il', 'sh -pi'],
    String.raw`${SHELL}\s+-[a-z]*i[a-z]*\s+[0-9]*(?:[<>]&|&>|[<>]\s*\S+\s+[0-9]*>&)\S*`,
  ),
  idiom(
    'netcat running a program on the connection (-e/-c/--exec)',
    ['nc ', 'ncat', 'netcat', 'nc.'],
    String.raw`(?:^|[\s/;&|(])(?:nc|ncat|netcat|nc\.traditional|nc\.openbsd)\s(?:[^;|&\n]*\s)?(?:-[a-z]*[ec]\b|--(?:sh-|lua-)?exec\b)\s*[^\s;|&]*`,
  ),
  idiom(
    'network connection piped into a shell',
    ['nc ', 'ncat', 'netcat', 'telnet', 's_client', 'socat'],
    String.raw`${NET_TOOL}[^;&\n|]*\|\s*(?:\S*/)?${SHELL}`,
  ),
  idiom(
    'named pipe joining a shell and a network tool',
    ['mkfifo', 'mknod'],
    String.raw`\|\s*(?:\S*/)?${SHELL}|${SHELL}${STDIN_OPTS}\s+[0-9]*<\s*\S*`,
    String.raw`\bmk(?:fifo|nod)\b`,
    NET_TOOL,
  ),
  idiom(
    'socat running a program on the connection (exec:/system:)',
    ['socat'],
    String.raw`(?i)\bsocat\b[^;|&\n]*\b(?:exec|system):\S*`,
  ),
  idiom(
    'python socket one-liner running a shell',
    ['socket'],
    String.raw`\bpython[0-9.]*\b.*`,
    String.raw`\bsocket\b`,
    String.raw`\.connect\s*\(`,
    String.raw`\b(?:dup2|subprocess|pty|popen|system|exec\w*|spawn\w*)\b`,
  ),
  idiom(
    'perl socket one-liner running a shell',
    ['socket'],
    String.raw`\bperl\b.*`,
    String.raw`(?i)\bsocket\b`,
    String.raw`\b(?:exec|system|fdopen)\b|>&\s*S\b|open\s*\(\s*STD`,
  ),
  idiom(
    'ruby socket one-liner running a shell',
    ['socket'],
    String.raw`\bruby\b.*`,
    String.raw`TCPSocket|Socket\.(?:new|tcp)`,
    String.raw`\b(?:exec|spawn|system|popen)\b|%x|` + '`',
  ),
  idiom(
    'php socket one-liner running a shell',
    ['fsockopen', 'socket_create', 'stream_socket_client'],
    String.raw`\bphp[0-9.]*\b.*`,
    String.raw`\b(?:fsockopen|socket_create|stream_socket_client)\b`,
    String.raw`\b(?:exec|shell_exec|system|passthru|popen|proc_open)\b|` + '`',
  ),
  idiom(
    'node.js socket one-liner running a shell',
    ['child_process'],
    String.raw`\bnode(?:js)?\b.*`,
    String.raw`\bnet\b|Socket|\.connect\s*\(`,
    String.raw`child_process`,
  ),
  idiom(
    'lua socket one-liner running a shell',
    ['socket'],
    String.raw`\blua[0-9.]*\b.*`,
    String.raw`\bsocket\b`,
    String.raw`\b(?:os\.execute|io\.popen)\b`,
  ),
  idiom('gawk /inet/tcp network special file', ['/inet'], String.raw`/inet[46]?/(?:tcp|udp)/\S*`),
  idiom(
    'PowerShell TCPClient shell',
    ['tcpclient'],
    String.raw`(?i)\bNet\.Sockets\.TCPClient\b.*|\bTCPClient\s*\(.*`,
    String.raw`(?i)\b(?:iex|invoke-expression|GetStream)\b`,
  ),
]);

/** Any text that can match holds one of these (see IdiomSet.tokens). */
export const reverseShellTokens = IDIOMS.tokens;

export function detectReverseShell(text: string): Detection | undefined {
  return IDIOMS.first(text, IDIOMS.scan(text));
}
