import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { HomeportError } from '../errors';

/**
 * DNS questions go through this small interface so that every check can be pointed at a
 * server on loopback (tests, split-horizon setups) and so the delegation walk can ask one
 * specific server at a time. The implementation speaks the wire protocol itself (dns-packet
 * over UDP, TCP when truncated) because Node's resolver hides the flags and sections the
 * checks need: the AA bit, referrals in the authority section, the exact rcode.
 */
export interface DnsServer {
  host: string;
  port: number;
}

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
  /** UDP attempts per server before moving to the next. */
  attempts?: number;
}

/** `host:port`, `[v6]:port`, or a bare host (port 53). */
export function parseServer(spec: string): DnsServer {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  let host: string;
  let port: string | undefined;
  if (bracket) [, host, port] = bracket as unknown as [string, string, string | undefined];
  else if (net.isIPv6(spec)) host = spec;
  else [host, port] = spec.split(':') as [string, string | undefined];
  const p = port === undefined ? 53 : Number(port);
  if (!host || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw new HomeportError('preflight.bad-resolver', `"${spec}" is not a DNS server address.`, {
      fix: 'Give it as host:port, for example 127.0.0.1:5353 or [::1]:53.',
    });
  }
  return { host, port: p };
}

export function formatServer(s: DnsServer): string {
  return net.isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
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
      for (let i = 0; i < this.attempts; i++) {
        try {
          return await this.ask(server, name, type, opts.recursionDesired ?? true);
        } catch (e) {
          errors.push(`${formatServer(server)}: ${(e as Error).message}`);
          // A refused port will stay refused; only a timeout is worth a second try.
          if ((e as NodeJS.ErrnoException).code === 'ECONNREFUSED') break;
        }
      }
    }
    throw new HomeportError(
      'preflight.dns-unreachable',
      `No DNS server answered the question ${name} ${type} (${errors.join('; ')}).`,
      {
        fix: 'Check the network connection and the DNS server address.',
        details: { servers: servers.map(formatServer) },
      },
    );
  }

  private async ask(server: DnsServer, name: string, type: QueryType, rd: boolean): Promise<DnsResponse> {
    const id = randomInt(0, 65536);
    const packet: dnsPacket.Packet = {
      type: 'query',
      id,
      flags: rd ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [{ type, name, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer],
    };
    let reply = await this.udp(server, dnsPacket.encode(packet), id);
    if (reply.flag_tc) reply = await this.tcp(server, packet, id);
    return toResponse(server, reply);
  }

  private udp(server: DnsServer, msg: Buffer, id: number): Promise<dnsPacket.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
      const timer = setTimeout(() => done(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      const done = (err: Error | null, p?: dnsPacket.DecodedPacket) => {
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else resolve(p!);
      };
      sock.on('error', (e) => done(e));
      sock.on('message', (buf) => {
        let p: dnsPacket.DecodedPacket;
        try {
          p = dnsPacket.decode(buf);
        } catch {
          return; // not a DNS answer; keep waiting for the real one
        }
        if (p.id === id) done(null, p);
      });
      // Connected UDP makes the kernel report "port unreachable" as ECONNREFUSED at once.
      sock.connect(server.port, server.host, () => sock.send(msg));
    });
  }

  private tcp(server: DnsServer, packet: dnsPacket.Packet, id: number): Promise<dnsPacket.DecodedPacket> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(server.port, server.host);
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => done(new Error(`no TCP answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      const done = (err: Error | null, p?: dnsPacket.DecodedPacket) => {
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(p!);
      };
      sock.on('error', (e) => done(e));
      sock.on('connect', () => sock.write(dnsPacket.streamEncode(packet)));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        if (p.id === id) done(null, p);
        else done(new Error('answer with a different id'));
      });
    });
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
