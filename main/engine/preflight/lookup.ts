import { HomeportError } from '../errors';
import { ROOT_SERVERS } from './data/root-servers';
import { formatDnsServer } from '../dns/transport';
import { DnsRecord, DnsServer, QueryType, Resolver, WireResolver } from './resolver';
import * as dns from 'node:dns';

/**
 * Two views of DNS: what a recursive resolver answers (what the CA's resolver will likely
 * see, caches included) and what the names' authoritative servers say right now, found by
 * walking the delegation from the root. When they differ, a change is still propagating.
 */
export interface DnsContext {
  /** The recursive resolver (the system's, or the one named with --resolver). */
  resolver: Resolver;
  /** Entry point of the delegation walk: the root servers, or a test server. */
  roots: DnsServer[];
  /** Where to ask a name server found at `address` (port 53; tests map glue to loopback ports). */
  serverFor?: (address: string) => DnsServer;
  /**
   * Every question goes to the resolver (`--resolver`): referrals are not followed, so the
   * authoritative view covers only the zones that server itself holds.
   */
  pinned?: boolean;
}

export interface NamedServer {
  /** The name server's host name (or its address when it has none, e.g. the roots). */
  name: string;
  server: DnsServer;
}

export type ZoneResult =
  | { ok: true; zone: string; servers: NamedServer[] }
  | { ok: false; reason: string; evidence: string[] };

export interface AuthoritativeAnswer {
  ok: true;
  /** rcode of the final step, NOERROR or NXDOMAIN. */
  rcode: string;
  /** CNAMEs followed from the asked name, in order ("www.example.com → host.example.net"). */
  chain: DnsRecord[];
  records: DnsRecord[];
  zone: string;
  servers: NamedServer[];
  /** Authoritative servers of one zone that answered differently (one line each). */
  disagreements: string[];
}

export type AuthoritativeResult = AuthoritativeAnswer | { ok: false; reason: string; evidence: string[] };

export interface RecursiveAnswer {
  rcode: string;
  chain: DnsRecord[];
  records: DnsRecord[];
  server: DnsServer;
}

/** The system's resolvers (as Node reads them from resolv.conf / the OS). */
export function systemResolver(): WireResolver {
  const servers = dns.getServers().map((s) => {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
    return m ? { host: m[1], port: Number(m[2]) } : { host: s, port: 53 };
  });
  return new WireResolver({ servers });
}

export function defaultDnsContext(resolverSpec?: DnsServer): DnsContext {
  if (resolverSpec) {
    return { resolver: new WireResolver({ servers: [resolverSpec] }), roots: [resolverSpec], pinned: true };
  }
  return { resolver: systemResolver(), roots: ROOT_SERVERS.map((host) => ({ host, port: 53 })) };
}

const MAX_REFERRALS = 16;
const MAX_CNAMES = 8;

function isUnder(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith('.' + zone);
}

function describe(s: NamedServer): string {
  return s.name === s.server.host ? formatDnsServer(s.server) : `${s.name} (${formatDnsServer(s.server)})`;
}

export class DnsLookup {
  private readonly zoneCache = new Map<string, Promise<ZoneResult>>();

  constructor(readonly ctx: DnsContext) {}

  private serverFor(address: string): DnsServer {
    return this.ctx.serverFor ? this.ctx.serverFor(address) : { host: address, port: 53 };
  }

  /** Asks the recursive resolver; the answer's CNAME chain is unrolled from the asked name. */
  async recursive(name: string, type: QueryType): Promise<RecursiveAnswer> {
    const r = await this.ctx.resolver.query(name, type);
    const { chain, records } = unroll(name, type, r.answers);
    return { rcode: r.rcode, chain, records, server: r.server };
  }

  /** The zone that holds `name` and its authoritative servers, by walking down from the roots. */
  zoneOf(name: string): Promise<ZoneResult> {
    let p = this.zoneCache.get(name);
    if (!p) {
      p = this.walk(name);
      this.zoneCache.set(name, p);
    }
    return p;
  }

  private async walk(name: string): Promise<ZoneResult> {
    let servers: NamedServer[] = this.ctx.roots.map((s) => ({ name: s.host, server: s }));
    let zone = '';
    const trail: string[] = [];
    for (let step = 0; step < MAX_REFERRALS; step++) {
      const failures: string[] = [];
      let answer: Awaited<ReturnType<Resolver['query']>> | undefined;
      let from: NamedServer | undefined;
      for (const s of servers) {
        try {
          const r = await this.ctx.resolver.query(name, 'SOA', { server: s.server, recursionDesired: false });
          const usable = r.rcode === 'NOERROR' || r.rcode === 'NXDOMAIN';
          if (usable && (r.aa || isReferral(r.authorities, name, zone))) {
            answer = r;
            from = s;
            break;
          }
          // A lame server (no authority, no referral) is skipped like a silent one.
          failures.push(`${describe(s)} answered ${r.rcode}${usable ? ' without authority or referral' : ''}`);
        } catch (e) {
          failures.push(`${describe(s)}: ${e instanceof HomeportError ? 'no answer' : (e as Error).message}`);
        }
      }
      if (!answer || !from) {
        return {
          ok: false,
          reason: `none of the name servers of ${zone || 'the root'} answered for ${name}`,
          evidence: [...trail, ...failures],
        };
      }
      const soa = [...answer.answers, ...answer.authorities].find((r) => r.type === 'SOA');
      if (answer.aa) {
        return { ok: true, zone: soa?.name ?? (zone || name), servers: prefer(from, servers) };
      }
      const ns = answer.authorities.filter((r) => r.type === 'NS' && isUnder(name, r.name) && r.name !== zone && (zone === '' || isUnder(r.name, zone)));
      const cut = ns[0]!.name;
      trail.push(`${describe(from)} refers ${cut} to ${ns.map((r) => r.data).join(', ')}`);
      if (this.ctx.pinned) {
        return {
          ok: false,
          reason: `${describe(from)} does not hold the zone ${cut} itself, and with --resolver every question goes to that server`,
          evidence: trail,
        };
      }
      const next: NamedServer[] = [];
      for (const r of ns) {
        const glue = answer.additionals.filter((a) => (a.type === 'A' || a.type === 'AAAA') && a.name === r.data);
        let addresses = glue.map((g) => g.data);
        if (addresses.length === 0) {
          try {
            addresses = (await this.recursive(r.data, 'A')).records.map((x) => x.data);
          } catch {
            addresses = [];
          }
        }
        for (const a of addresses) next.push({ name: r.data, server: this.serverFor(a) });
      }
      if (next.length === 0) {
        return {
          ok: false,
          reason: `the name servers of ${cut} (${ns.map((r) => r.data).join(', ')}) have no address`,
          evidence: trail,
        };
      }
      servers = next;
      zone = cut;
    }
    return { ok: false, reason: `the delegation of ${name} is longer than ${MAX_REFERRALS} steps (a loop?)`, evidence: trail };
  }

  /** Asks every authoritative server of the name's zone, following CNAMEs across zones. */
  async authoritative(name: string, type: QueryType): Promise<AuthoritativeResult> {
    const chain: DnsRecord[] = [];
    let current = name;
    for (let hop = 0; hop <= MAX_CNAMES; hop++) {
      const zone = await this.zoneOf(current);
      if (!zone.ok) return zone;
      const answers: { s: NamedServer; rcode: string; records: DnsRecord[] }[] = [];
      const failures: string[] = [];
      for (const s of zone.servers) {
        try {
          const r = await this.ctx.resolver.query(current, type, { server: s.server, recursionDesired: false });
          if (r.aa && (r.rcode === 'NOERROR' || r.rcode === 'NXDOMAIN')) answers.push({ s, rcode: r.rcode, records: r.answers });
          else failures.push(`${describe(s)} answered ${r.rcode}${r.aa ? '' : ' without authority'}`);
        } catch {
          failures.push(`${describe(s)} did not answer`);
        }
      }
      const first = answers[0];
      if (!first) {
        return {
          ok: false,
          reason: `no authoritative server of ${zone.zone} answered for ${current}`,
          evidence: failures,
        };
      }
      const key = (a: { rcode: string; records: DnsRecord[] }) =>
        `${a.rcode} ${a.records.map((r) => `${r.type} ${r.data}`).sort().join(', ')}`;
      const disagreements = answers.some((a) => key(a) !== key(first))
        ? answers.map((a) => `${describe(a.s)}: ${key(a)}`)
        : [];
      const part = unroll(current, type, first.records);
      chain.push(...part.chain);
      const last = part.chain.at(-1);
      if (part.records.length > 0 || !last || first.rcode === 'NXDOMAIN') {
        return {
          ok: true,
          rcode: first.rcode,
          chain,
          records: part.records,
          zone: zone.zone,
          servers: zone.servers,
          disagreements: [...disagreements, ...failures],
        };
      }
      current = last.data;
    }
    return { ok: false, reason: `${name} has a CNAME chain longer than ${MAX_CNAMES}`, evidence: chain.map(cnameLine) };
  }
}

/** NS records for a zone between `zone` and `name`: the server delegates downwards. */
function isReferral(authorities: DnsRecord[], name: string, zone: string): boolean {
  return authorities.some((r) => r.type === 'NS' && isUnder(name, r.name) && r.name !== zone && (zone === '' || isUnder(r.name, zone)));
}

/** Puts the server that answered first; the rest keep their order. */
function prefer(first: NamedServer, all: NamedServer[]): NamedServer[] {
  return [first, ...all.filter((s) => s !== first)];
}

/** Splits an answer section into the CNAME chain from `name` and the final records of `type`. */
export function unroll(name: string, type: QueryType, answers: DnsRecord[]): { chain: DnsRecord[]; records: DnsRecord[] } {
  const chain: DnsRecord[] = [];
  let current = name.toLowerCase();
  for (let i = 0; i <= MAX_CNAMES; i++) {
    const c = type === 'CNAME' ? undefined : answers.find((r) => r.type === 'CNAME' && r.name === current);
    if (!c) break;
    chain.push(c);
    current = c.data;
  }
  return { chain, records: answers.filter((r) => r.type === type && r.name === current) };
}

export function cnameLine(r: DnsRecord): string {
  return `CNAME ${r.name} → ${r.data}`;
}

export function describeServer(s: NamedServer): string {
  return describe(s);
}
