import * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';

/**
 * DNS messages on the wire, for everyone who asks a specific server: the pre-flight checks
 * (delegation walk, CAA, split-horizon resolvers) and dns-01 over RFC 2136 (SOA look-ups,
 * signed updates). UDP first, resent a few times because UDP loses packets, and the same
 * question again over TCP when the answer comes back truncated. What a failure means is the
 * caller's to say (a pre-flight finding, a dns-01 error): this module only says what happened.
 */
export interface DnsServer {
  host: string;
  port: number;
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address; undefined when it is none of these. */
export function parseDnsServer(input: string): DnsServer | undefined {
  const s = input.trim();
  let host: string;
  let port = '53';
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] ?? port;
    if (!net.isIPv6(host)) return undefined;
  } else if (net.isIPv6(s)) {
    host = s;
  } else {
    const m = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(s);
    if (!m) return undefined;
    host = m[1]!;
    port = m[2] ?? port;
  }
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535 || host === '') return undefined;
  return { host, port: n };
}

export function formatDnsServer(s: DnsServer): string {
  return net.isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

export interface ExchangeOptions {
  /** TCP only; otherwise UDP, switching to TCP when the answer is truncated. */
  tcp?: boolean;
  /** Per attempt (default 3 s). */
  timeoutMs?: number;
  /** UDP sends before giving up (default 3); an answer to any of them counts. */
  udpAttempts?: number;
}

/** Why a server gave no answer; `refused` will not change by asking again, `timeout` may. */
export type DnsFailure = 'refused' | 'timeout' | 'unreachable' | 'bad-answer' | 'no-address';

export class DnsTransportError extends Error {
  override readonly name = 'DnsTransportError';
  constructor(
    readonly server: DnsServer,
    readonly reason: DnsFailure,
    /** What the server did, as the end of a sentence: "refused the connection (…)". */
    readonly what: string,
    cause?: unknown,
  ) {
    super(`The DNS server at ${formatDnsServer(server)} ${what}.`, cause === undefined ? undefined : { cause });
  }
}

const isResponseTo = (id: number, msg: Buffer): boolean =>
  msg.length >= 12 && msg.readUInt16BE(0) === id && (msg[2]! & 0x80) !== 0;

/** The TC bit of a DNS header. */
const isTruncated = (msg: Buffer): boolean => (msg[2]! & 0x02) !== 0;

function udpExchange(server: DnsServer, address: string, message: Buffer, timeoutMs: number, attempts: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    const id = message.readUInt16BE(0);
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    let sent = 0;
    const finish = (err: Error | null, res?: Buffer) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    const failed = (e: NodeJS.ErrnoException) =>
      finish(
        e.code === 'ECONNREFUSED'
          ? new DnsTransportError(server, 'refused', 'refused the connection (nothing listens on that port)', e)
          : new DnsTransportError(server, 'unreachable', `could not be reached (${e.code ?? e.message})`, e),
      );
    // Anything else arriving on the socket (a stray or forged datagram) is not the answer: keep waiting.
    sock.on('message', (msg) => isResponseTo(id, msg) && finish(null, msg));
    sock.on('error', failed);
    const send = () => {
      if (finished) return;
      if (sent++ >= attempts) return finish(new DnsTransportError(server, 'timeout', `did not answer within ${(attempts * timeoutMs) / 1000} s`));
      sock.send(message, (e) => e && failed(e));
      timer = setTimeout(send, timeoutMs);
    };
    // Connected UDP makes the kernel report "port unreachable" as ECONNREFUSED at once.
    sock.connect(server.port, address, send);
  });
}

function tcpExchange(server: DnsServer, address: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address, port: server.port });
    let received = Buffer.alloc(0);
    let finished = false;
    const finish = (err: Error | null, res?: Buffer) => {
      if (finished) return;
      finished = true;
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.setTimeout(timeoutMs, () => finish(new DnsTransportError(server, 'timeout', `did not answer over TCP within ${timeoutMs / 1000} s`)));
    sock.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      sock.write(Buffer.concat([length, message]));
    });
    sock.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.length < 2 || received.length < 2 + received.readUInt16BE(0)) return;
      const msg = received.subarray(2, 2 + received.readUInt16BE(0));
      if (isResponseTo(message.readUInt16BE(0), msg)) finish(null, msg);
      else finish(new DnsTransportError(server, 'bad-answer', 'answered over TCP with a message that does not match the question'));
    });
    sock.on('end', () => finish(new DnsTransportError(server, 'bad-answer', 'closed the TCP connection without answering')));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      finish(
        e.code === 'ECONNREFUSED'
          ? new DnsTransportError(server, 'refused', 'refused the TCP connection (nothing listens on that port)', e)
          : new DnsTransportError(server, 'unreachable', `could not be reached over TCP (${e.code ?? e.message})`, e),
      ),
    );
  });
}

/** Sends one DNS message (its id in the first two bytes) and returns the matching response. */
export async function exchange(server: DnsServer, message: Buffer, opts: ExchangeOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  let address = server.host;
  if (net.isIP(address) === 0) {
    try {
      address = (await lookup(server.host)).address;
    } catch (e) {
      throw new DnsTransportError(server, 'no-address', `has a name that does not resolve to an address (${(e as NodeJS.ErrnoException).code ?? e})`, e);
    }
  }
  if (opts.tcp) return tcpExchange(server, address, message, timeoutMs);
  const res = await udpExchange(server, address, message, timeoutMs, opts.udpAttempts ?? 3);
  return isTruncated(res) ? tcpExchange(server, address, message, timeoutMs) : res;
}
