import { isIP, type BlockList } from 'node:net';

/**
 * Upstream addresses and allow-list ranges, free of the config schema (zod) so the proxy's
 * request path, which proxy helper processes load alone, stays small. The schema validates with
 * the same functions.
 */

export type Upstream =
  | { kind: 'http' | 'https'; url: string; host: string; port: number; basePath: string }
  | { kind: 'unix'; url: string; socketPath: string; basePath: string };

/**
 * Parses an upstream address: `http://host:port[/base]`, `https://host:port[/base]`
 * or `unix:/path/to.sock`. Throws an Error whose message is the user-facing reason.
 */
export function parseUpstream(raw: string): Upstream {
  if (raw.startsWith('unix:')) {
    const socketPath = raw.slice('unix:'.length);
    if (!socketPath.startsWith('/')) {
      throw new Error(`upstream "${raw}": a unix socket needs an absolute path, e.g. "unix:/run/app.sock"`);
    }
    return { kind: 'unix', url: raw, socketPath, basePath: '' };
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`upstream "${raw}" is not a URL: write it like "http://127.0.0.1:8123" or "unix:/run/app.sock"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new Error(`upstream "${raw}": only http://, https:// and unix:/path upstreams are supported`);
  }
  if (u.username || u.password) {
    throw new Error(`upstream "${raw}": credentials in the URL are not supported; use the route's basic auth for visitors`);
  }
  if (u.search || u.hash) throw new Error(`upstream "${raw}": leave out the query and fragment`);
  const kind = u.protocol === 'https:' ? 'https' : 'http';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port ? Number(u.port) : kind === 'https' ? 443 : 80;
  const basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return { kind, url: raw, host, port, basePath };
}

/** Adds an address (`192.168.1.7`) or a CIDR (`192.168.0.0/16`, `fd00::/8`) to a BlockList. */
export function addCidr(list: BlockList, cidr: string): void {
  const [addr, bits, extra] = cidr.trim().split('/');
  const family = isIP(addr ?? '');
  if (!addr || family === 0 || extra !== undefined) {
    throw new Error(`"${cidr}" is not an IP address or CIDR range: write e.g. "192.168.1.0/24", "10.0.0.5" or "fd00::/8"`);
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) {
    list.addAddress(addr, type);
    return;
  }
  const prefix = Number(bits);
  if (!/^\d+$/.test(bits) || prefix > (family === 6 ? 128 : 32)) {
    throw new Error(`"${cidr}": the prefix length after "/" must be 0–${family === 6 ? 128 : 32}`);
  }
  list.addSubnet(addr, prefix, type);
}
