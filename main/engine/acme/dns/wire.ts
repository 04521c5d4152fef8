/**
 * The few pieces of DNS wire format that dns-packet cannot express: an UPDATE message needs
 * class NONE (254) to delete one record, and TSIG needs the exact byte offsets of a message's
 * sections. Names are written lower-case and uncompressed, which is also TSIG's canonical form.
 */

export const TYPE_SOA = 6;
export const TYPE_TXT = 16;
export const TYPE_TSIG = 250;
export const CLASS_IN = 1;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
export const OPCODE_UPDATE = 5;

export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/\.$/, '').toLowerCase();
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length < 1 || bytes.length > 63) throw new RangeError(`invalid DNS name "${name}"`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new RangeError(`DNS name too long: "${name}"`);
  return out;
}

/** TXT RDATA: the value cut into character-strings of at most 255 bytes. */
export function encodeTxtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** 48-bit unsigned, as TSIG's Time Signed. */
export function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

export interface ResourceRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  rdata: Buffer;
}

export function encodeRecord(rr: ResourceRecord): Buffer {
  return Buffer.concat([encodeName(rr.name), u16(rr.type), u16(rr.klass), u32(rr.ttl), u16(rr.rdata.length), rr.rdata]);
}

export interface Header {
  id: number;
  flags: number;
  /** QDCOUNT/ZOCOUNT, ANCOUNT/PRCOUNT, NSCOUNT/UPCOUNT, ARCOUNT. */
  counts: [number, number, number, number];
}

export function encodeHeader(h: Header): Buffer {
  return Buffer.concat([u16(h.id), u16(h.flags), ...h.counts.map(u16)]);
}

export function decodeHeader(buf: Buffer): Header {
  if (buf.length < 12) throw new RangeError('DNS message shorter than its header');
  return {
    id: buf.readUInt16BE(0),
    flags: buf.readUInt16BE(2),
    counts: [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)],
  };
}

export const rcodeOf = (flags: number): number => flags & 0xf;
/** A bounds-checked cursor over a received message. */
export class Reader {
  constructor(readonly buf: Buffer, public offset = 0) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new RangeError('DNS message ends early');
  }

  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.offset, 6);
    this.offset += 6;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** A possibly compressed name, returned lower-case without the trailing dot. */
  name(): string {
    const labels: string[] = [];
    let pos = this.offset;
    let end = -1;
    for (let hops = 0; ; ) {
      if (pos >= this.buf.length) throw new RangeError('DNS name runs past the message');
      const len = this.buf[pos]!;
      if (len === 0) {
        pos += 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new RangeError('DNS name runs past the message');
        if (end < 0) end = pos + 2;
        const target = this.buf.readUInt16BE(pos) & 0x3fff;
        if (target >= pos || ++hops > 64) throw new RangeError('bad DNS name compression pointer');
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new RangeError('bad DNS label');
      if (pos + 1 + len > this.buf.length) throw new RangeError('DNS name runs past the message');
      labels.push(this.buf.toString('ascii', pos + 1, pos + 1 + len).toLowerCase());
      pos += 1 + len;
    }
    this.offset = end >= 0 ? end : pos;
    return labels.join('.');
  }

  question(): void {
    this.name();
    this.u32();
  }

  record(): ResourceRecord {
    const name = this.name();
    const type = this.u16();
    const klass = this.u16();
    const ttl = this.u32();
    const rdata = this.bytes(this.u16());
    return { name, type, klass, ttl, rdata };
  }
}
