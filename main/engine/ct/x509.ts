import { Tlv, children, decodeOid, decodeTime, expectTag, malformed, readTlv } from './der';

/** X.509 extension carrying the embedded SCT list (RFC 6962 §3.3). */
export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';
/** The precertificate poison (RFC 6962 §3.1): present only in precertificates. */
export const PRECERT_POISON_OID = '1.3.6.1.4.1.11129.2.4.3';

export interface CertExtension {
  oid: string;
  critical: boolean;
  /** The whole Extension SEQUENCE. */
  tlv: Tlv;
  /** The extnValue OCTET STRING (its content is the extension's own DER). */
  value: Tlv;
}

/** The parts of a certificate CT needs, as offsets into its original DER. */
export interface ParsedCert {
  der: Uint8Array;
  tbs: Tlv;
  serialHex: string;
  issuer: Tlv;
  subject: Tlv;
  notBefore: number;
  notAfter: number;
  /** SubjectPublicKeyInfo, whole TLV. */
  spki: Tlv;
  /** The [3] wrapper and the SEQUENCE inside it; absent when the certificate has no extensions. */
  extensionsWrapper?: Tlv;
  extensionsSeq?: Tlv;
  extensions: CertExtension[];
}

export function parseCertificate(der: Uint8Array): ParsedCert {
  if (der.length === 0) throw malformed('the data is empty');
  const cert = expectTag(readTlv(der, 0), 0x30, 'the certificate');
  if (cert.end !== der.length) throw malformed('there are extra bytes after the certificate');
  const [tbs] = children(der, cert);
  expectTag(tbs, 0x30, 'the TBSCertificate');
  const f = children(der, tbs);
  let i = 0;
  if (f[i]?.tag === 0xa0) i++; // version
  const serial = expectTag(f[i++], 0x02, 'the serial number');
  expectTag(f[i++], 0x30, 'the signature algorithm');
  const issuer = expectTag(f[i++], 0x30, 'the issuer name');
  const validity = expectTag(f[i++], 0x30, 'the validity');
  const subject = expectTag(f[i++], 0x30, 'the subject name');
  const spki = expectTag(f[i++], 0x30, 'the public key');
  const [nb, na] = children(der, validity);
  if (!nb || !na) throw malformed('the validity lacks notBefore or notAfter');
  let extensionsWrapper: Tlv | undefined;
  let extensionsSeq: Tlv | undefined;
  const extensions: CertExtension[] = [];
  for (; i < f.length; i++) {
    if (f[i].tag !== 0xa3) continue; // issuer/subject unique IDs
    extensionsWrapper = f[i];
    extensionsSeq = expectTag(children(der, f[i])[0], 0x30, 'the extensions');
    for (const ext of children(der, extensionsSeq)) {
      const parts = children(der, expectTag(ext, 0x30, 'an extension'));
      const oid = expectTag(parts[0], 0x06, 'an extension id');
      const critical = parts[1]?.tag === 0x01 && der[parts[1].contentStart] !== 0;
      const value = expectTag(parts[parts[1]?.tag === 0x01 ? 2 : 1], 0x04, 'an extension value');
      extensions.push({ oid: decodeOid(der, oid), critical, tlv: ext, value });
    }
  }
  return {
    der,
    tbs,
    serialHex: Buffer.from(der.subarray(serial.contentStart, serial.end)).toString('hex'),
    issuer,
    subject,
    notBefore: decodeTime(der, nb),
    notAfter: decodeTime(der, na),
    spki,
    extensionsWrapper,
    extensionsSeq,
    extensions,
  };
}

export function bytesOf(c: { der: Uint8Array }, t: Tlv): Uint8Array {
  return c.der.subarray(t.start, t.end);
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/**
 * Every certificate in a file, in order: PEM (one or more blocks: leaf then chain) or a
 * single DER certificate.
 */
export function certificatesFromFile(data: Uint8Array | string): Uint8Array[] {
  const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
  const ders = [...text.matchAll(PEM_CERT)].map((m) => new Uint8Array(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
  if (ders.length > 0) return ders;
  if (typeof data !== 'string' && data[0] === 0x30) return [data];
  if (/-----BEGIN /.test(text)) throw malformed('the PEM file holds no CERTIFICATE block');
  throw malformed('it is neither PEM nor DER');
}
