import { createHash } from 'node:crypto';
import { encodeLength } from './der';
import type { Sct } from './sct';
import { PRECERT_POISON_OID, ParsedCert, SCT_LIST_OID, bytesOf, parseCertificate } from './x509';

/**
 * What a log signed for an embedded SCT (RFC 6962 §3.2, entry_type precert_entry): the final
 * issuer's key hash and the certificate's TBSCertificate without the SCT list extension.
 */
export interface PrecertEntry {
  /** SHA-256 of the issuing CA's SubjectPublicKeyInfo. */
  issuerKeyHash: Buffer;
  /** DER TBSCertificate with the SCT list extension cut out, every other byte as issued. */
  tbsCertificate: Buffer;
}

const ENTRY_TYPE_PRECERT = 1;

function header(tag: number, contentLength: number): Buffer {
  return Buffer.concat([Uint8Array.of(tag), encodeLength(contentLength)]);
}

/**
 * The TBSCertificate with the SCT list extension removed by cutting its bytes out of the
 * original DER and fixing the three enclosing lengths (extensions SEQUENCE, [3], TBS). Other
 * extensions, their order and encoding stay exactly as the CA wrote them. Given a
 * precertificate instead, the poison extension is what goes (what a log does on submission).
 */
export function precertTbs(cert: ParsedCert): Buffer {
  const { der, tbs, extensionsWrapper: wrap, extensionsSeq: seq } = cert;
  const ext =
    cert.extensions.find((e) => e.oid === SCT_LIST_OID) ?? cert.extensions.find((e) => e.oid === PRECERT_POISON_OID);
  if (!ext || !wrap || !seq) return Buffer.from(bytesOf(cert, tbs));
  const before = der.subarray(seq.contentStart, ext.tlv.start);
  const after = der.subarray(ext.tlv.end, seq.end);
  const extContentLen = before.length + after.length;
  const tbsHeadFields = der.subarray(tbs.contentStart, wrap.start);
  const tbsTail = der.subarray(wrap.end, tbs.end);
  let middle: Buffer;
  if (extContentLen === 0) {
    // No extension left: an empty [3] is not valid DER, so the field goes (as Go's x509 does).
    middle = Buffer.alloc(0);
  } else {
    const seqHdr = header(0x30, extContentLen);
    middle = Buffer.concat([header(0xa3, seqHdr.length + extContentLen), seqHdr, before, after]);
  }
  const content = tbsHeadFields.length + middle.length + tbsTail.length;
  return Buffer.concat([header(0x30, content), tbsHeadFields, middle, tbsTail]);
}

/** SHA-256 of a certificate's SubjectPublicKeyInfo (the CT issuer_key_hash). */
export function issuerKeyHash(issuer: Uint8Array | ParsedCert): Buffer {
  const parsed = issuer instanceof Uint8Array ? parseCertificate(issuer) : issuer;
  return createHash('sha256').update(bytesOf(parsed, parsed.spki)).digest();
}

/** The precert entry for an embedded SCT, from the final certificate and its issuer. */
export function precertSignedEntry(leaf: Uint8Array | ParsedCert, issuer: Uint8Array | ParsedCert): PrecertEntry {
  const parsed = leaf instanceof Uint8Array ? parseCertificate(leaf) : leaf;
  return { issuerKeyHash: issuerKeyHash(issuer), tbsCertificate: precertTbs(parsed) };
}

/**
 * TimestampedEntry preceded by two zero bytes. The same bytes are the SCT's signed data
 * (sct_version v1, signature_type certificate_timestamp) and the RFC 6962 MerkleTreeLeaf
 * (version v1, leaf_type timestamped_entry), since both prefixes are 0, 0.
 */
function timestampedEntry(sct: Pick<Sct, 'timestamp' | 'extensions'>, entry: PrecertEntry): Buffer {
  const tbs = entry.tbsCertificate;
  const out = Buffer.allocUnsafe(2 + 8 + 2 + 32 + 3 + tbs.length + 2 + sct.extensions.length);
  let p = 0;
  out[p++] = 0;
  out[p++] = 0;
  out.writeBigUInt64BE(BigInt(sct.timestamp), p);
  p += 8;
  out.writeUInt16BE(ENTRY_TYPE_PRECERT, p);
  p += 2;
  p += entry.issuerKeyHash.copy(out, p);
  out.writeUIntBE(tbs.length, p, 3);
  p += 3;
  p += tbs.copy(out, p);
  out.writeUInt16BE(sct.extensions.length, p);
  p += 2;
  sct.extensions.copy(out, p);
  return out;
}

/** The bytes an embedded SCT's signature covers (RFC 6962 §3.2 digitally-signed struct). */
export function sctSignedData(sct: Pick<Sct, 'timestamp' | 'extensions'>, entry: PrecertEntry): Buffer {
  return timestampedEntry(sct, entry);
}

/** The MerkleTreeLeaf for an embedded SCT (RFC 6962 §3.4). */
export function merkleTreeLeaf(sct: Pick<Sct, 'timestamp' | 'extensions'>, entry: PrecertEntry): Buffer {
  return timestampedEntry(sct, entry);
}

/** RFC 6962 leaf hash: SHA-256(0x00 || MerkleTreeLeaf). */
export function leafHash(sct: Pick<Sct, 'timestamp' | 'extensions'>, entry: PrecertEntry): Buffer {
  return createHash('sha256').update(Uint8Array.of(0)).update(merkleTreeLeaf(sct, entry)).digest();
}
