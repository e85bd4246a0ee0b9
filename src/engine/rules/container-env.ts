// What a container really runs, as far as its spec can tell. Two expansions hide payloads from a
// check that reads command and args as written:
//
// 1. The kubelet's: `$(VAR)` in command and args is replaced with the container's env value
//    before exec (`command: ["$(A)", "-t", "1"]` with `A=nsenter` runs nsenter). `$$` is an
//    escaped `$`; a name that is not defined stays as written. Env values may use earlier env
//    entries the same way. (k8s.io/kubernetes third_party/forked/golang/expansion.)
// 2. The shell's: `sh -c "$P"` with the payload in env P. The text a shell would run is judged
//    with `$NAME` and `${NAME}` replaced by literal env values of the same container, and by
//    literal assignments made earlier on the same command line (`c=cu; ${c}rl`).
//
// Only literal values are known: values from valueFrom, envFrom, ConfigMaps and Secrets are out
// of reach of a spec check, and stay as written.
import type { Container, EnvVar } from '../pod.ts';

const OPERATOR = '$';

/** The kubelet's `$(VAR)` expansion of one string; `lookup` undefined: leave the reference. */
export function expandKubelet(input: string, lookup: (name: string) => string | undefined): string {
  if (!input.includes(OPERATOR)) return input;
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== OPERATOR || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    if (next === OPERATOR) {
      out += OPERATOR; // `$$` is an escaped `$`
      cursor += 1;
    } else if (next === '(') {
      const close = input.indexOf(')', cursor + 2);
      if (close < 0) {
        out += '$('; // an incomplete reference is kept as written
        cursor += 1;
      } else {
        const name = input.slice(cursor + 2, close);
        out += lookup(name) ?? `$(${name})`;
        cursor = close;
      }
    } else {
      out += OPERATOR + (next as string);
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** The container's literal env, each value expanded against the entries before it (as the kubelet does). */
export function literalEnv(env: readonly EnvVar[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const e of env) {
    if (e.value === undefined) {
      // Defined, but unknowable here: a later reference to it stays as written.
      values.delete(e.name);
      continue;
    }
    values.set(
      e.name,
      expandKubelet(e.value, (n) => values.get(n)),
    );
  }
  return values;
}

const expanded = new WeakMap<Container, { command: string[]; args: string[] }>();

/** command and args as the kubelet passes them to exec. */
export function runtimeArgv(c: Container): { command: string[]; args: string[] } {
  if (c.env.length === 0) return c;
  let r = expanded.get(c);
  if (r) return r;
  const needs = (w: string): boolean => w.includes('$');
  if (!c.command.some(needs) && !c.args.some(needs)) r = c;
  else {
    const env = literalEnv(c.env);
    const lookup = (n: string): string | undefined => env.get(n);
    r = {
      command: c.command.map((w) => expandKubelet(w, lookup)),
      args: c.args.map((w) => expandKubelet(w, lookup)),
    };
  }
  expanded.set(c, r);
  return r;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
/** `NAME=literal` at the start of a command: a shell assignment later words can use. */
const ASSIGNMENT = /(?:^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=([^\s;&|()$`'"\\]*)/g;

/**
 * Shell text with `$NAME` and `${NAME}` replaced where NAME has a literal value: from the
 * container's env, or assigned earlier in the text itself. Undefined names stay as written.
 * Linear in the text (one pass for assignments, one for references). Returns the text itself
 * when there is nothing to replace.
 */
export function substituteShellVars(text: string, env: ReadonlyMap<string, string>): string {
  if (!text.includes('$')) return text;
  // Assignments earlier in the line: their position decides which references they cover.
  const assigned: { at: number; name: string; value: string }[] = [];
  for (const m of text.matchAll(ASSIGNMENT))
    assigned.push({
      at: (m.index ?? 0) + m[0].length,
      name: m[1] as string,
      value: m[2] as string,
    });
  if (env.size === 0 && assigned.length === 0) return text;
  let out = '';
  let from = 0;
  let next = 0;
  const local = new Map<string, string>();
  for (let i = text.indexOf('$'); i >= 0; i = text.indexOf('$', i + 1)) {
    while (next < assigned.length && (assigned[next] as { at: number }).at <= i) {
      const a = assigned[next++] as { name: string; value: string };
      local.set(a.name, a.value);
    }
    const braced = text[i + 1] === '{';
    const rest = text.slice(i + (braced ? 2 : 1), i + (braced ? 2 : 1) + 256);
    const name = NAME.exec(rest)?.[0];
    if (!name || (braced && rest[name.length] !== '}')) continue;
    const value = local.get(name) ?? env.get(name);
    if (value === undefined) continue;
    out += text.slice(from, i) + value;
    from = i + (braced ? 3 : 1) + name.length;
    i = from - 1;
  }
  return from === 0 ? text : out + text.slice(from);
}
