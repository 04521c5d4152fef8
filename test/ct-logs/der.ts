/**
 * A minimal DER writer for the test CA: enough to build X.509 certificates field by field,
 * so the CA controls every byte (extension order, the poison, the SCT list) the way a real
 * CA's precertificate flow does.
 */
export type Der = Buffer;

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Der {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), length(body.length), body]);
}

export const seq = (...items: Der[]) => tlv(0x30, ...items);
export const set = (...items: Der[]) => tlv(0x31, ...items);
export const octets = (b: Buffer) => tlv(0x04, b);
export const bool = (v: boolean) => tlv(0x01, Buffer.of(v ? 0xff : 0));
export const nullValue = () => tlv(0x05);
export const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
export const explicit = (n: number, ...inner: Der[]) => tlv(0xa0 | n, ...inner);
/** BIT STRING with no unused bits. */
export const bits = (b: Buffer) => tlv(0x03, Buffer.of(0), b);

/** INTEGER from unsigned big-endian bytes (a leading zero is added when the top bit is set). */
export function uint(b: Buffer | number): Der {
  const hex = typeof b === 'number' ? b.toString(16) : '';
  let v = typeof b === 'number' ? Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex') : b;
  while (v.length > 1 && v[0] === 0 && v[1] < 0x80) v = v.subarray(1);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.of(0), v]);
  return tlv(0x02, v);
}

export function oid(dotted: string): Der {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const groups: number[] = [];
    let v = p;
    do {
      groups.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
export function time(ms: number): Der {
  const iso = new Date(ms).toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = Number(iso.slice(0, 4));
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

/** A Name with a single CN (and O when given). */
export function name(cn: string, o?: string): Der {
  const rdn = (type: string, v: string) => set(seq(oid(type), utf8(v)));
  return o ? seq(rdn('2.5.4.10', o), rdn('2.5.4.3', cn)) : seq(rdn('2.5.4.3', cn));
}

export function extension(id: string, critical: boolean, value: Der): Der {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}
