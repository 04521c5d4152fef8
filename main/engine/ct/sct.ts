import { HomeportError } from '../errors';
import { expectTag, readTlv } from './der';
import { ParsedCert, SCT_LIST_OID, parseCertificate } from './x509';

/** RFC 5246 HashAlgorithm / SignatureAlgorithm codes used by CT logs. */
export const HASH_SHA256 = 4;
export const SIG_RSA = 1;
export const SIG_ECDSA = 3;

/** One SignedCertificateTimestamp (RFC 6962 §3.2), as the log issued it. */
export interface Sct {
  /** 0 = v1, the only version RFC 6962 defines. */
  version: number;
  /** SHA-256 of the log's public key (32 bytes). */
  logId: Buffer;
  logIdBase64: string;
  /** Milliseconds since the epoch, as the log stamped it. */
  timestamp: number;
  /** CtExtensions bytes (static-ct-api puts leaf_index here); covered by the signature. */
  extensions: Buffer;
  hashAlg: number;
  sigAlg: number;
  signature: Buffer;
  /** The whole serialized SCT, for hashing or de-duplication. */
  raw: Buffer;
}

function malformedList(what: string): HomeportError {
  return new HomeportError('ct.malformed-sct-list', `The certificate's SCT list is malformed: ${what}.`, {
    fix: 'The CA produced a broken certificate; ask it for a new one (renew) and report this to the CA.',
  });
}

class Reader {
  constructor(private readonly b: Buffer, public pos = 0, private readonly end = b.length) {}
  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformedList(`${what} runs past the end`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++];
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  vec16(what: string): Buffer {
    return this.bytes(this.u16(what), what);
  }
  done(): boolean {
    return this.pos >= this.end;
  }
}

/** Parses one serialized SCT. */
export function parseSct(raw: Buffer): Sct {
  const r = new Reader(raw);
  const version = r.u8('the SCT version');
  if (version !== 0) throw malformedList(`an SCT has version ${version + 1}, only v1 exists`);
  const logId = r.bytes(32, 'the log id');
  const tsBytes = r.bytes(8, 'the timestamp');
  const timestamp = Number(tsBytes.readBigUInt64BE(0));
  if (!Number.isSafeInteger(timestamp)) throw malformedList('an SCT timestamp is out of range');
  const extensions = r.vec16('the SCT extensions');
  const hashAlg = r.u8('the hash algorithm');
  const sigAlg = r.u8('the signature algorithm');
  const signature = r.vec16('the signature');
  if (!r.done()) throw malformedList('an SCT has trailing bytes');
  return { version, logId, logIdBase64: logId.toString('base64'), timestamp, extensions, hashAlg, sigAlg, signature, raw };
}

/** Parses a TLS-encoded SignedCertificateTimestampList (RFC 6962 §3.3). */
export function parseSctList(bytes: Uint8Array): Sct[] {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const outer = new Reader(b);
  const total = outer.u16('the list length');
  if (total + 2 !== b.length) throw malformedList(`the list says ${total} bytes but holds ${b.length - 2}`);
  if (total === 0) throw malformedList('the list is empty');
  const out: Sct[] = [];
  while (!outer.done()) {
    const raw = outer.vec16('an SCT');
    if (raw.length === 0) throw malformedList('an SCT is empty');
    out.push(parseSct(raw));
  }
  return out;
}

/** The SCT list extension's TLS bytes (inside its two OCTET STRING layers), or undefined. */
export function sctListBytes(cert: ParsedCert): Buffer | undefined {
  const ext = cert.extensions.find((e) => e.oid === SCT_LIST_OID);
  if (!ext) return undefined;
  // extnValue is an OCTET STRING whose content is itself a DER OCTET STRING holding the TLS list.
  try {
    const inner = expectTag(readTlv(cert.der, ext.value.contentStart, ext.value.end), 0x04, 'the SCT list');
    if (inner.end !== ext.value.end) throw new Error('trailing bytes');
    return Buffer.from(cert.der.buffer, cert.der.byteOffset + inner.contentStart, inner.end - inner.contentStart);
  } catch {
    throw malformedList('the extension does not hold an OCTET STRING');
  }
}

/** Every SCT embedded in a certificate (DER or an already parsed one); [] when there are none. */
export function extractEmbeddedScts(cert: Uint8Array | ParsedCert): Sct[] {
  const parsed = cert instanceof Uint8Array ? parseCertificate(cert) : cert;
  const list = sctListBytes(parsed);
  return list ? parseSctList(list) : [];
}

/** static-ct-api's leaf_index SCT extension (type 0, uint40), when the log put one there. */
export function sctLeafIndex(sct: Sct): number | undefined {
  const r = new Reader(sct.extensions);
  while (!r.done()) {
    const type = r.u8('an SCT extension type');
    const data = r.vec16('an SCT extension');
    if (type === 0) {
      if (data.length !== 5) throw malformedList('the leaf_index extension is not 5 bytes');
      return data.readUIntBE(0, 5);
    }
  }
  return undefined;
}
