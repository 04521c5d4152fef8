import { HomeportError } from '../errors';

/**
 * Just enough DER to walk a certificate on its original bytes. CT signatures cover exact
 * bytes (the TBSCertificate minus one extension), so re-encoding through an ASN.1 object
 * model would risk changing what was signed; walking offsets cannot.
 */
export interface Tlv {
  /** Identifier octet (single-byte tags only: X.509 needs nothing else). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just after the last content byte. */
  end: number;
}

export function malformed(what: string, cause?: unknown): HomeportError {
  return new HomeportError('ct.malformed-certificate', `This is not a well-formed certificate: ${what}.`, {
    fix: 'Give a PEM or DER X.509 certificate (the file your CA returned, e.g. cert.pem or fullchain.pem).',
    cause,
  });
}

/** Reads the TLV at `pos`, checking it fits inside `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit = buf.length): Tlv {
  if (pos + 2 > limit) throw malformed('it ends in the middle of a field');
  const tag = buf[pos];
  if ((tag & 0x1f) === 0x1f) throw malformed('it uses a multi-byte ASN.1 tag');
  let len = buf[pos + 1];
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw malformed('a field has an invalid length');
    if (p + n > limit) throw malformed('it ends in the middle of a field length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > limit) throw malformed('it is truncated (a field runs past the end of the data)');
  return { tag, start: pos, contentStart: p, end: p + len };
}

/** The TLVs directly inside a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw malformed(`${what} is missing or has the wrong type`);
  return t;
}

/** DER length octets for `len`. */
export function encodeLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Decodes an OBJECT IDENTIFIER's content bytes to dotted form. */
export function decodeOid(buf: Uint8Array, t: Tlv): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = t.contentStart; i < t.end; i++) {
    v = v * 128 + (buf[i] & 0x7f);
    if (!(buf[i] & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** UTCTime or GeneralizedTime → ms since epoch. */
export function decodeTime(buf: Uint8Array, t: Tlv): number {
  const s = Buffer.from(buf.subarray(t.contentStart, t.end)).toString('latin1');
  let m: RegExpMatchArray | null;
  if (t.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    return Date.UTC(yy >= 50 ? 1900 + yy : 2000 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  if (t.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  throw malformed(`a validity time ("${s}") is not in X.509 form`);
}
