import { createHash, createHmac, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { HomeportError } from '../errors';

/**
 * PKCS#12 (RFC 7292) for every key type. node-forge's own PKCS#12 writer only knows RSA keys,
 * so the file is assembled here with forge's ASN.1 encoder around bytes node:crypto makes:
 * the key bag is the PKCS#8 EncryptedPrivateKeyInfo that node:crypto exports (PBES2,
 * PBKDF2-HMAC-SHA256, AES-256-CBC: what OpenSSL 3 writes by default), the certificates go in
 * plain certBags, and the whole is protected by an HMAC-SHA256 with the PKCS#12 key derivation.
 * OpenSSL 3, Windows 10+ and macOS read this profile.
 */
const OID = {
  data: '1.2.840.113549.1.7.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
};
const MAC_ITERATIONS = 2048;

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const C = asn1.Class.UNIVERSAL;
const T = asn1.Type;

const seq = (...items: Asn1[]): Asn1 => asn1.create(C, T.SEQUENCE, true, items);
const set = (...items: Asn1[]): Asn1 => asn1.create(C, T.SET, true, items);
const oid = (dotted: string): Asn1 => asn1.create(C, T.OID, false, asn1.oidToDer(dotted).getBytes());
const octets = (b: Buffer): Asn1 => asn1.create(C, T.OCTETSTRING, false, b.toString('binary'));
const int = (n: number): Asn1 => asn1.create(C, T.INTEGER, false, asn1.integerToDer(n).getBytes());
const explicit0 = (inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [inner]);
const der = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
const raw = (bytes: Buffer): Asn1 => asn1.fromDer(bytes.toString('binary'));

/** forge writes a BMPSTRING's JS string as UTF-16BE itself. */
const bmp = (s: string): Asn1 => asn1.create(C, T.BMPSTRING, false, s);

function utf16be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return le;
}

export interface Pkcs12Input {
  certPem: string;
  /** Intermediates, PEM (may be empty). */
  chainPem: string;
  keyPem: string;
  password: string;
  friendlyName?: string;
}

export function buildPkcs12(input: Pkcs12Input): Buffer {
  if (!input.password) {
    throw new HomeportError('export.no-password', 'A PFX file needs a password.', { fix: 'Pass --password <password>.' });
  }
  const leaf = new X509Certificate(input.certPem);
  const chain = (input.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p),
  );
  const localKeyId = createHash('sha1').update(leaf.raw).digest();
  const attrs = (withName: boolean) =>
    set(
      ...(withName && input.friendlyName ? [seq(oid(OID.friendlyName), set(bmp(input.friendlyName)))] : []),
      seq(oid(OID.localKeyId), set(octets(localKeyId))),
    );

  const encryptedKey = createPrivateKey(input.keyPem).export({
    type: 'pkcs8',
    format: 'der',
    cipher: 'aes-256-cbc',
    passphrase: input.password,
  });
  const keyBag = seq(oid(OID.pkcs8ShroudedKeyBag), explicit0(raw(encryptedKey)), attrs(true));
  const certBag = (cert: X509Certificate, withAttrs: boolean) =>
    seq(
      oid(OID.certBag),
      explicit0(seq(oid(OID.x509Certificate), explicit0(octets(cert.raw)))),
      ...(withAttrs ? [attrs(true)] : []),
    );

  const dataContent = (safeContents: Asn1) => seq(oid(OID.data), explicit0(octets(der(safeContents))));
  const authenticatedSafe = der(
    seq(dataContent(seq(certBag(leaf, true), ...chain.map((c) => certBag(c, false)))), dataContent(seq(keyBag))),
  );

  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(input.password, salt, 3, MAC_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authenticatedSafe).digest();
  const pfx = seq(
    int(3),
    seq(oid(OID.data), explicit0(octets(authenticatedSafe))),
    seq(seq(seq(oid(OID.sha256), asn1.create(C, T.NULL, false, '')), octets(mac)), octets(salt), int(MAC_ITERATIONS)),
  );
  return der(pfx);
}

/** RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64); the password as a BMPString with its NUL. */
export function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32;
  const v = 64;
  const pass = Buffer.concat([utf16be(password), Buffer.alloc(2)]);
  const fill = (b: Buffer) => {
    if (b.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(b.length / v));
    for (let i = 0; i < out.length; i++) out[i] = b[i % b.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(pass)]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash('sha256').update(A).digest();
    out.push(A);
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      // I_j = (I_j + B + 1) mod 2^(8v), big-endian
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}
