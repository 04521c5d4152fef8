import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS_ANY, Reader, TYPE_TSIG, decodeHeader, encodeName, encodeRecord, u16, u32, u48 } from './wire';

/**
 * TSIG (RFC 8945): an HMAC over the whole message with a shared key, so the DNS server knows
 * the update comes from us and we know the answer comes from it.
 */

/** Algorithm names as they travel on the wire, mapped to node:crypto's hash names. */
const HASHES = {
  'hmac-sha1': 'sha1',
  'hmac-sha224': 'sha224',
  'hmac-sha256': 'sha256',
  'hmac-sha384': 'sha384',
  'hmac-sha512': 'sha512',
} as const;

export type TsigAlgorithm = keyof typeof HASHES;
export const TSIG_ALGORITHMS = Object.keys(HASHES) as TsigAlgorithm[];
export const DEFAULT_TSIG_ALGORITHM: TsigAlgorithm = 'hmac-sha256';

/** Seconds of clock difference a signature tolerates (RFC 8945 recommends 300). */
export const TSIG_FUDGE = 300;

/** TSIG error codes (RFC 8945 section 3), carried in the TSIG record rather than the header. */
export const TSIG_BADSIG = 16;
export const TSIG_BADKEY = 17;
export const TSIG_BADTIME = 18;
export const TSIG_BADTRUNC = 22;

export interface TsigKey {
  /** The key's name exactly as configured on the server, e.g. `homeport-key`. */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** Accepts `hmac-sha256`, `HMAC-SHA256.` or plain `sha256`; undefined for anything else. */
export function parseTsigAlgorithm(input: string): TsigAlgorithm | undefined {
  const s = input.trim().toLowerCase().replace(/\.$/, '');
  const name = s.startsWith('hmac-') ? s : `hmac-${s}`;
  return name in HASHES ? (name as TsigAlgorithm) : undefined;
}

function variables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([
    encodeName(key.name),
    u16(CLASS_ANY),
    u32(0),
    encodeName(key.algorithm),
    u48(timeSigned),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ]);
}

function hmac(key: TsigKey, ...parts: Buffer[]): Buffer {
  const h = createHmac(HASHES[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

export interface SignedMessage {
  message: Buffer;
  /** The request's MAC: the response's signature covers it. */
  mac: Buffer;
}

/** Appends a TSIG record to a complete message; `now` in ms since the epoch. */
export function signMessage(message: Buffer, key: TsigKey, now: number): SignedMessage {
  const timeSigned = Math.floor(now / 1000);
  const none = Buffer.alloc(0);
  const mac = hmac(key, message, variables(key, timeSigned, TSIG_FUDGE, 0, none));
  const originalId = message.readUInt16BE(0);
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    u48(timeSigned),
    u16(TSIG_FUDGE),
    u16(mac.length),
    mac,
    u16(originalId),
    u16(0),
    u16(0),
  ]);
  const signed = Buffer.concat([message, encodeRecord({ name: key.name, type: TYPE_TSIG, klass: CLASS_ANY, ttl: 0, rdata })]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

export type TsigCheck =
  | { status: 'ok' }
  /** The response carries no TSIG record. */
  | { status: 'unsigned' }
  /** The server reports a TSIG error (BADSIG, BADKEY, BADTIME …); `serverTime` in s for BADTIME. */
  | { status: 'error'; error: number; serverTime?: number }
  /** Signed, but with another key or algorithm than ours. */
  | { status: 'wrong-key'; keyName: string; algorithm: string }
  | { status: 'bad-mac' }
  | { status: 'bad-time'; timeSigned: number };

/** Checks the TSIG record that must end a response to a request signed with `requestMac`. */
export function verifyResponse(response: Buffer, requestMac: Buffer, key: TsigKey, now: number): TsigCheck {
  const header = decodeHeader(response);
  const [qd, an, ns, ar] = header.counts;
  if (ar === 0) return { status: 'unsigned' };
  const r = new Reader(response, 12);
  for (let i = 0; i < qd; i++) r.question();
  for (let i = 0; i < an + ns + ar - 1; i++) r.record();
  const tsigStart = r.offset;
  const rr = r.record();
  if (rr.type !== TYPE_TSIG) return { status: 'unsigned' };

  const t = new Reader(rr.rdata);
  const algorithm = t.name();
  const timeSigned = t.u48();
  const fudge = t.u16();
  const mac = t.bytes(t.u16());
  const originalId = t.u16();
  const error = t.u16();
  const other = t.bytes(t.u16());

  if (error !== 0) {
    return error === TSIG_BADTIME && other.length === 6
      ? { status: 'error', error, serverTime: other.readUIntBE(0, 6) }
      : { status: 'error', error };
  }
  if (rr.name !== key.name.toLowerCase().replace(/\.$/, '') || algorithm !== key.algorithm) {
    return { status: 'wrong-key', keyName: rr.name, algorithm };
  }

  const unsigned = Buffer.from(response.subarray(0, tsigStart));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(ar - 1, 10);
  const expected = hmac(key, u16(requestMac.length), requestMac, unsigned, variables(key, timeSigned, fudge, error, other));
  // A truncated MAC (RFC 8945 section 5.2.2) is never requested by us, so only a full one is valid.
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return { status: 'bad-mac' };
  if (Math.abs(Math.floor(now / 1000) - timeSigned) > fudge) return { status: 'bad-time', timeSigned };
  return { status: 'ok' };
}
