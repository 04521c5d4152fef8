import { generateKeyPair, KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type { KeyType } from '../certs/types';
import { acme } from './acme-http';

const generate = promisify(generateKeyPair);

/** A fresh certificate key. ECDSA P-256 unless asked otherwise; RSA sizes as requested. */
export async function generateKey(type: KeyType): Promise<KeyObject> {
  switch (type) {
    case 'ec256':
      return (await generate('ec', { namedCurve: 'prime256v1' })).privateKey;
    case 'ec384':
      return (await generate('ec', { namedCurve: 'secp384r1' })).privateKey;
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return (await generate('rsa', { modulusLength: Number(type.slice(3)) })).privateKey;
  }
}

export function keyToPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * A CSR (PEM) for `names` signed with our key (acme-client would make an RSA-2048 key of its
 * own otherwise). CN = the first name when it fits (64 characters, not an IP), else SAN only.
 */
export async function createCsr(names: string[], keyPem: string): Promise<Buffer> {
  const cn = names[0];
  const commonName = cn && cn.length <= 64 && !isIP(cn) ? cn : undefined;
  const [, csr] = await acme().crypto.createCsr({ commonName, altNames: [...names] }, keyPem);
  return csr;
}
