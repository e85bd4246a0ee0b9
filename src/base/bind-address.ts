// Listen addresses in controller-runtime's syntax, shared by every server the operator runs.
import { isIP } from 'node:net';

/**
 * controller-runtime's bind address syntax: ":8080" all interfaces, "host:port", "[::1]:8080",
 * "0" disabled. Port 0 picks a free port (tests). Undefined: not a bind address.
 */
export function parseBindAddress(
  s: string,
): { host?: string; port: number } | 'disabled' | undefined {
  if (s === '0') return 'disabled';
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const [, v6, name] = m;
  if (v6 !== undefined) return isIP(v6) === 6 ? { host: v6, port } : undefined;
  if (name === '' || name === undefined) return { port };
  const hostname =
    /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
  return isIP(name) === 4 || hostname.test(name) ? { host: name, port } : undefined;
}
