import { KeyObject, createPublicKey, verify } from 'node:crypto';
import { PrecertEntry, sctSignedData } from './precert';
import { HASH_SHA256, SIG_ECDSA, SIG_RSA, Sct } from './sct';

export interface SctSignatureCheck {
  valid: boolean;
  /** Why it is invalid, in plain words; absent when valid. */
  reason?: string;
}

/** A log's public key from its DER SubjectPublicKeyInfo (the log list's base64 `key`). */
export function logKeyFromSpki(spki: Uint8Array | string): KeyObject {
  const der = typeof spki === 'string' ? Buffer.from(spki, 'base64') : Buffer.from(spki);
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/**
 * Checks an embedded SCT's signature over its precert entry with the log's key. Only the
 * algorithms RFC 6962 §2.1.4 allows: ECDSA P-256 or RSA PKCS#1 v1.5, both with SHA-256.
 */
export function verifySctSignature(sct: Sct, entry: PrecertEntry, logKey: KeyObject): SctSignatureCheck {
  if (sct.hashAlg !== HASH_SHA256) return { valid: false, reason: `the SCT uses hash algorithm ${sct.hashAlg}, not SHA-256` };
  const keyType = logKey.asymmetricKeyType;
  if (sct.sigAlg === SIG_ECDSA && keyType !== 'ec') return { valid: false, reason: "the SCT says ECDSA but the log's key is not an EC key" };
  if (sct.sigAlg === SIG_RSA && keyType !== 'rsa') return { valid: false, reason: "the SCT says RSA but the log's key is not an RSA key" };
  if (sct.sigAlg !== SIG_ECDSA && sct.sigAlg !== SIG_RSA) {
    return { valid: false, reason: `the SCT uses signature algorithm ${sct.sigAlg}, which CT does not allow` };
  }
  let ok: boolean;
  try {
    ok = verify('sha256', sctSignedData(sct, entry), logKey, sct.signature);
  } catch {
    ok = false; // a signature that is not even well-formed DER/PKCS#1
  }
  return ok ? { valid: true } : { valid: false, reason: "the signature does not match this certificate and the log's key" };
}
