import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { HomeportError } from '../errors';
import { type DnsServer, DnsTransportError, exchange, formatDnsServer, parseDnsServer } from '../dns/transport';

export type { DnsServer };

/**
 * DNS questions go through this small interface so that every check can be pointed at a
 * server on loopback (tests, split-horizon setups) and so the delegation walk can ask one
 * specific server at a time. The implementation speaks the wire protocol itself (dns-packet
 * through dns/transport.ts) because Node's resolver hides the flags and sections the checks
 * need: the AA bit, referrals in the authority section, the exact rcode.
 */
export type QueryType = 'A' | 'AAAA' | 'CNAME' | 'CAA' | 'NS' | 'SOA' | 'TXT';

export interface CaaValue {
  flags: number;
  tag: string;
  value: string;
}

export interface DnsRecord {
  name: string;
  type: string;
  ttl: number;
  /** Addresses, target names, TXT text; for CAA the `tag "value"` presentation form. */
  data: string;
  caa?: CaaValue;
}

export interface DnsResponse {
  server: DnsServer;
  rcode: string;
  /** Authoritative answer: the server holds the zone. */
  aa: boolean;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export interface QueryOptions {
  /** Ask this server instead of the resolver's own. */
  server?: DnsServer;
  /** Off for questions to authoritative servers during a delegation walk. */
  recursionDesired?: boolean;
}

export interface Resolver {
  query(name: string, type: QueryType, opts?: QueryOptions): Promise<DnsResponse>;
}

export interface WireResolverOptions {
  servers: DnsServer[];
  timeoutMs?: number;
  /** UDP sends per server before moving to the next. */
  attempts?: number;
}

/** `host:port`, `[v6]:port`, or a bare host (port 53); a plain error when it is none of these. */
export function parseServer(spec: string): DnsServer {
  const server = parseDnsServer(spec);
  if (!server) {
    throw new HomeportError('preflight.bad-resolver', `"${spec}" is not a DNS server address.`, {
      fix: 'Give it as host:port, for example 127.0.0.1:5353 or [::1]:53.',
    });
  }
  return server;
}

export class WireResolver implements Resolver {
  private readonly timeoutMs: number;
  private readonly attempts: number;

  constructor(private readonly opts: WireResolverOptions) {
    if (opts.servers.length === 0) {
      throw new HomeportError('preflight.no-resolver', 'No DNS server is configured on this machine.', {
        fix: 'Name one with --resolver host:port.',
      });
    }
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.attempts = opts.attempts ?? 2;
  }

  async query(name: string, type: QueryType, opts: QueryOptions = {}): Promise<DnsResponse> {
    const servers = opts.server ? [opts.server] : this.opts.servers;
    const errors: string[] = [];
    for (const server of servers) {
      try {
        return await this.ask(server, name, type, opts.recursionDesired ?? true);
      } catch (e) {
        if (!(e instanceof DnsTransportError)) throw e;
        errors.push(`${formatDnsServer(server)} ${e.what}`);
      }
    }
    throw new HomeportError(
      'preflight.dns-unreachable',
      `No DNS server answered the question ${name} ${type} (${errors.join('; ')}).`,
      {
        fix: 'Check the network connection and the DNS server address.',
        details: { servers: servers.map(formatDnsServer) },
      },
    );
  }

  private async ask(server: DnsServer, name: string, type: QueryType, rd: boolean): Promise<DnsResponse> {
    const packet: dnsPacket.Packet = {
      type: 'query',
      id: randomInt(0, 65536),
      flags: rd ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [{ type, name, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer],
    };
    const reply = await exchange(server, dnsPacket.encode(packet), { timeoutMs: this.timeoutMs, udpAttempts: this.attempts });
    let decoded: dnsPacket.DecodedPacket;
    try {
      decoded = dnsPacket.decode(reply);
    } catch (e) {
      throw new DnsTransportError(server, 'bad-answer', 'answered with a message that is not valid DNS', e);
    }
    return toResponse(server, decoded);
  }
}

function toRecord(a: dnsPacket.Answer): DnsRecord | undefined {
  const base = { name: a.name.replace(/\.$/, '').toLowerCase(), type: a.type, ttl: 'ttl' in a ? (a.ttl ?? 0) : 0 };
  switch (a.type) {
    case 'A':
    case 'AAAA':
    case 'CNAME':
    case 'NS':
    case 'DNAME':
      return { ...base, data: String(a.data).replace(/\.$/, '').toLowerCase() };
    case 'CAA': {
      const c = a.data;
      const caa = { flags: c.flags ?? 0, tag: c.tag.toLowerCase(), value: c.value };
      return { ...base, data: `${caa.flags} ${caa.tag} "${caa.value}"`, caa };
    }
    case 'TXT': {
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      return { ...base, data: parts.map((p) => p.toString()).join('') };
    }
    case 'SOA':
      return { ...base, data: `${a.data.mname} ${a.data.rname} ${a.data.serial}` };
    default:
      return undefined;
  }
}

function toResponse(server: DnsServer, p: dnsPacket.DecodedPacket): DnsResponse {
  const list = (xs: dnsPacket.Answer[] | undefined) =>
    (xs ?? []).map(toRecord).filter((r): r is DnsRecord => r !== undefined);
  return {
    server,
    rcode: (p as dnsPacket.DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR',
    aa: Boolean(p.flag_aa),
    answers: list(p.answers),
    authorities: list(p.authorities),
    additionals: list(p.additionals),
  };
}
