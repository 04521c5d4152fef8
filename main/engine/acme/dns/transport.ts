import * as dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import * as net from 'node:net';
import { HomeportError } from '../../errors';
import { isTruncated, u16 } from './wire';

/** Where DNS messages go: an authoritative server (for updates) or any server (for SOA look-ups). */
export interface DnsServerAddress {
  host: string;
  port: number;
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address; undefined when it is none of these. */
export function parseServerAddress(input: string): DnsServerAddress | undefined {
  const s = input.trim();
  let host: string;
  let port = '53';
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] ?? port;
    if (net.isIPv6(host) === false) return undefined;
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

export function formatServerAddress(s: DnsServerAddress): string {
  return net.isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

export interface ExchangeOptions {
  /** TCP only; otherwise UDP, switching to TCP when the answer is truncated. */
  tcp?: boolean;
  /** Per attempt. */
  timeoutMs?: number;
  /** UDP sends before giving up (UDP loses packets; TCP does not need resending). */
  udpAttempts?: number;
}

function unreachable(server: DnsServerAddress, why: string, cause?: unknown): HomeportError {
  return new HomeportError('dns01.server-unreachable', `The DNS server at ${formatServerAddress(server)} ${why}.`, {
    fix: 'Check the server address and port in the dns-01 settings, and that the server runs and accepts DNS over UDP and TCP from this machine.',
    cause,
  });
}

const isResponseTo = (id: number, msg: Buffer): boolean =>
  msg.length >= 12 && msg.readUInt16BE(0) === id && (msg[2]! & 0x80) !== 0;

function udpExchange(server: DnsServerAddress, address: string, message: Buffer, timeoutMs: number, attempts: number): Promise<Buffer> {
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
    const refused = (e: NodeJS.ErrnoException) =>
      finish(unreachable(server, e.code === 'ECONNREFUSED' ? 'refused the connection (nothing listens on that port)' : `could not be reached (${e.code ?? e.message})`, e));
    sock.on('message', (msg) => isResponseTo(id, msg) && finish(null, msg));
    sock.on('error', refused);
    const send = () => {
      if (finished) return;
      if (sent++ >= attempts) return finish(unreachable(server, `did not answer within ${(attempts * timeoutMs) / 1000} s`));
      sock.send(message, (e) => e && refused(e));
      timer = setTimeout(send, timeoutMs);
    };
    sock.connect(server.port, address, send);
  });
}

function tcpExchange(server: DnsServerAddress, address: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
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
    sock.setTimeout(timeoutMs, () => finish(unreachable(server, `did not answer over TCP within ${timeoutMs / 1000} s`)));
    sock.on('connect', () => sock.write(Buffer.concat([u16(message.length), message])));
    sock.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        const msg = received.subarray(2, 2 + received.readUInt16BE(0));
        if (isResponseTo(message.readUInt16BE(0), msg)) finish(null, msg);
        else finish(unreachable(server, 'answered over TCP with a message that does not match the question'));
      }
    });
    sock.on('end', () => finish(unreachable(server, 'closed the TCP connection without answering')));
    sock.on('error', (e: NodeJS.ErrnoException) =>
      finish(unreachable(server, e.code === 'ECONNREFUSED' ? 'refused the TCP connection (nothing listens on that port)' : `could not be reached over TCP (${e.code ?? e.message})`, e)),
    );
  });
}

/** Sends one DNS message and returns the matching response. */
export async function exchange(server: DnsServerAddress, message: Buffer, opts: ExchangeOptions = {}): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  let address = server.host;
  if (net.isIP(address) === 0) {
    try {
      address = (await lookup(server.host)).address;
    } catch (e) {
      throw unreachable(server, `has a name that does not resolve to an address (${(e as NodeJS.ErrnoException).code ?? e})`, e);
    }
  }
  if (opts.tcp) return tcpExchange(server, address, message, timeoutMs);
  const res = await udpExchange(server, address, message, timeoutMs, opts.udpAttempts ?? 3);
  return isTruncated(res.readUInt16BE(2)) ? tcpExchange(server, address, message, timeoutMs) : res;
}
