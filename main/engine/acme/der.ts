/**
 * Just enough DER to build a CSR and a tls-alpn-01 certificate and to read a certificate's
 * extensions (ARI needs the Authority Key Identifier). Hand-written on purpose: the ASN.1
 * libraries cost more to load than the whole issuance takes on a warm connection.
 */

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const bool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);
/** A BIT STRING with no unused bits. */
export const bits = (b: Buffer): Buffer => tlv(0x03, Buffer.from([0]), b);
/** Context-specific tag n; constructed (EXPLICIT or IMPLICIT SEQUENCE) or primitive (IMPLICIT). */
export const ctx = (n: number, constructed: boolean, ...content: Buffer[]): Buffer =>
  tlv(0x80 | (constructed ? 0x20 : 0) | n, ...content);

/** A non-negative INTEGER from big-endian bytes (leading zeros trimmed, sign byte added). */
export function uint(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let b = bytes.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime before 2050, GeneralizedTime after, as RFC 5280 asks. */
export function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  const year = new Date(ms).getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

/** A parsed DER element; `children` is filled for constructed elements. */
export interface Node {
  tag: number;
  /** The content bytes (without tag and length). */
  value: Buffer;
  /** The whole element, tag and length included. */
  raw: Buffer;
  children: Node[];
}

export function parse(buf: Buffer, offset = 0): Node {
  const tag = buf[offset];
  let len = buf[offset + 1];
  let head = 2;
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i];
    head += n;
  }
  const start = offset + head;
  if (start + len > buf.length) throw new Error('truncated DER');
  const value = buf.subarray(start, start + len);
  const node: Node = { tag, value, raw: buf.subarray(offset, start + len), children: [] };
  if (tag & 0x20) {
    for (let p = 0; p < value.length; ) {
      const child = parse(value, p);
      node.children.push(child);
      p += child.raw.length;
    }
  }
  return node;
}

export function oidToString(value: Buffer): string {
  const out = [Math.floor(value[0] / 40), value[0] % 40];
  let acc = 0;
  for (const b of value.subarray(1)) {
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      out.push(acc);
      acc = 0;
    }
  }
  return out.join('.');
}

/** The extensions of a certificate (DER), by OID, each the extension's extnValue contents. */
export function certificateExtensions(der: Buffer): Map<string, Buffer> {
  const tbs = parse(der).children[0];
  const out = new Map<string, Buffer>();
  const wrapper = tbs?.children.find((c) => c.tag === 0xa3);
  for (const ext of wrapper?.children[0]?.children ?? []) {
    const id = oidToString(ext.children[0].value);
    out.set(id, ext.children[ext.children.length - 1].value);
  }
  return out;
}
