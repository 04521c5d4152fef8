import * as net from 'node:net';
import * as http from 'node:http';
import * as https from 'node:https';
import { CLOUDFLARE_IPV4, CLOUDFLARE_IPV6 } from './data/cloudflare-ips';

/**
 * This host's public addresses (check 2) and what kind of address an A/AAAA record holds.
 * The probe asks services that echo the caller's address; the user can name the addresses
 * instead (--public-ip), and then no service is asked.
 */
export type AddressKind = 'public' | 'cgnat' | 'private' | 'loopback' | 'link-local';

function blockList(entries: [string, number, 'ipv4' | 'ipv6'][]): net.BlockList {
  const list = new net.BlockList();
  for (const [a, p, t] of entries) list.addSubnet(a, p, t);
  return list;
}

const CGNAT = blockList([['100.64.0.0', 10, 'ipv4']]);
const PRIVATE = blockList([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);
const LOOPBACK = blockList([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const LINK_LOCAL = blockList([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
/** RFC 5737 / RFC 3849: examples only, never a real host, so never probed. */
const DOCUMENTATION = blockList([
  ['192.0.2.0', 24, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['2001:db8::', 32, 'ipv6'],
]);

export function isDocumentationAddress(ip: string): boolean {
  return DOCUMENTATION.check(ip, family(ip));
}

const CLOUDFLARE = (() => {
  const list = new net.BlockList();
  for (const cidr of CLOUDFLARE_IPV4) {
    const [a, p] = cidr.split('/');
    list.addSubnet(a, Number(p), 'ipv4');
  }
  for (const cidr of CLOUDFLARE_IPV6) {
    const [a, p] = cidr.split('/');
    list.addSubnet(a, Number(p), 'ipv6');
  }
  return list;
})();

function family(ip: string): 'ipv4' | 'ipv6' {
  return net.isIPv6(ip) ? 'ipv6' : 'ipv4';
}

export function classifyAddress(ip: string): AddressKind {
  const f = family(ip);
  if (LOOPBACK.check(ip, f)) return 'loopback';
  if (CGNAT.check(ip, f)) return 'cgnat';
  if (PRIVATE.check(ip, f)) return 'private';
  if (LINK_LOCAL.check(ip, f)) return 'link-local';
  return 'public';
}

export function isCloudflareAddress(ip: string): boolean {
  return CLOUDFLARE.check(ip, family(ip));
}

/** Equal as addresses (IPv6 written differently, e.g. 2001:db8::1 vs 2001:0db8:0:0::1). */
export function sameAddress(a: string, b: string): boolean {
  if (net.isIP(a) !== net.isIP(b) || net.isIP(a) === 0) return false;
  const list = new net.BlockList();
  list.addAddress(a, family(a));
  return list.check(b, family(b));
}

export interface PublicAddresses {
  ipv4: string[];
  ipv6: string[];
  /** Where they came from, one line each ("given with --public-ip", "https://api.ipify.org said …"). */
  evidence: string[];
  /** True when the user named them; then nothing was probed. */
  overridden: boolean;
}

export interface AddressProbe {
  discover(): Promise<PublicAddresses>;
}

/** The user's own list: no probe service is asked. */
export function fixedAddresses(addresses: string[]): AddressProbe {
  const bad = addresses.filter((a) => net.isIP(a) === 0);
  if (bad.length) throw new Error(`"${bad[0]}" is not an IP address.`);
  return {
    discover: async () => ({
      ipv4: addresses.filter((a) => net.isIPv4(a)),
      ipv6: addresses.filter((a) => net.isIPv6(a)),
      evidence: addresses.map((a) => `${a} given with --public-ip`),
      overridden: true,
    }),
  };
}

export interface HttpProbeOptions {
  /** Services that answer the caller's IPv4 address as plain text; asked over IPv4. */
  ipv4: string[];
  /** The same for IPv6; asked over IPv6. */
  ipv6: string[];
  timeoutMs?: number;
}

export const DEFAULT_PROBES: HttpProbeOptions = {
  ipv4: ['https://api.ipify.org', 'https://ipv4.icanhazip.com'],
  ipv6: ['https://api6.ipify.org', 'https://ipv6.icanhazip.com'],
};

/** Asks each family's services in order and keeps the first plausible answer. */
export function httpProbe(opts: HttpProbeOptions = DEFAULT_PROBES): AddressProbe {
  const timeoutMs = opts.timeoutMs ?? 4000;
  const ask = async (urls: string[], fam: 4 | 6, evidence: string[]): Promise<string[]> => {
    for (const url of urls) {
      try {
        const body = (await get(url, fam, timeoutMs)).trim();
        if (net.isIP(body) === fam) {
          evidence.push(`${url} saw this host as ${body}`);
          return [body];
        }
        evidence.push(`${url} answered something that is not an IPv${fam} address`);
      } catch (e) {
        evidence.push(`${url}: ${(e as Error).message}`);
      }
    }
    return [];
  };
  return {
    async discover() {
      const ev4: string[] = [];
      const ev6: string[] = [];
      const [ipv4, ipv6] = await Promise.all([ask(opts.ipv4, 4, ev4), ask(opts.ipv6, 6, ev6)]);
      return { ipv4, ipv6, evidence: [...ev4, ...ev6], overridden: false };
    },
  };
}

function get(url: string, fam: 4 | 6, timeoutMs: number): Promise<string> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { family: fam, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
        if (body.length > 200) req.destroy(new Error('answer too long'));
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
