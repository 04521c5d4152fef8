import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Header rules of a reverse proxy (RFC 9110 §7.6.1): hop-by-hop headers stop here, and the
 * forwarding headers are written by us alone. A client cannot inject X-Forwarded-For or
 * Forwarded: whatever it sent is dropped and replaced with what this hop saw.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

const FORWARDING = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);

/** Names listed in a Connection header are hop-by-hop too. */
function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const set = new Set<string>();
  for (const t of value.split(',')) {
    const n = t.trim().toLowerCase();
    if (n) set.add(n);
  }
  return set;
}

export interface ForwardInfo {
  clientIp: string;
  proto: 'http' | 'https';
  /** The Host the client asked for (with port, as sent). */
  host: string;
  /** Host header for the upstream. */
  upstreamHost: string;
  /** The path for the upstream, normalised and less any stripped prefix; the upstream's base path goes before it. */
  path: string;
}

function forwardedFor(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

function quoteIfNeeded(v: string): string {
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * Request headers for the upstream. `keepUpgrade` keeps Connection/Upgrade for a WebSocket
 * handshake, the one case where they must reach the upstream.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  info: ForwardInfo,
  keepUpgrade = false,
): OutgoingHttpHeaders {
  const listed = connectionTokens(incoming.connection as string | undefined);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (name.charCodeAt(0) === 58 /* : pseudo-header of HTTP/2 */) continue;
    if (HOP_BY_HOP.has(name) || FORWARDING.has(name) || name === 'host') continue;
    if (listed?.has(name)) continue;
    out[name] = incoming[name];
  }
  out.host = info.upstreamHost;
  out['x-forwarded-for'] = info.clientIp;
  out['x-forwarded-proto'] = info.proto;
  out['x-forwarded-host'] = info.host;
  out['x-real-ip'] = info.clientIp;
  out.forwarded = `for=${forwardedFor(info.clientIp)};host=${quoteIfNeeded(info.host)};proto=${info.proto}`;
  if (keepUpgrade) {
    out.connection = 'upgrade';
    if (incoming.upgrade) out.upgrade = incoming.upgrade;
  }
  return out;
}

/** Response headers for the client: hop-by-hop ones are also those HTTP/2 forbids (RFC 9113 §8.2.2). */
export function clientResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(incoming.connection as string | undefined);
  const out: OutgoingHttpHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = incoming[name];
  }
  return out;
}
