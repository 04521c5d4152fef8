import { generateKeyPair, createHash, createPublicKey, randomBytes, sign, KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type { KeyType } from '../certs/types';
import * as der from './der';

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

/** The X.509 signature algorithm for a key, and the digest to sign with. */
function signatureAlgorithm(key: KeyObject): { alg: Buffer; hash: string } {
  if (key.asymmetricKeyType === 'ec') {
    const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
    return { alg: der.seq(der.oid(p384 ? '1.2.840.10045.4.3.3' : '1.2.840.10045.4.3.2')), hash: p384 ? 'sha384' : 'sha256' };
  }
  return { alg: der.seq(der.oid('1.2.840.113549.1.1.11'), der.nul()), hash: 'sha256' };
}

function subjectAltName(names: string[]): Buffer {
  const general = names.map((n) => {
    if (isIP(n)) {
      const bytes = isIP(n) === 4 ? Buffer.from(n.split('.').map(Number)) : ipv6Bytes(n);
      return der.ctx(7, false, bytes);
    }
    return der.ctx(2, false, Buffer.from(n, 'ascii'));
  });
  return der.seq(der.oid('2.5.29.17'), der.octets(der.seq(...general)));
}

function ipv6Bytes(addr: string): Buffer {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

/** A subject with CN = the first name when it fits (64 characters), else empty, as CAs accept. */
function subject(names: string[]): Buffer {
  const cn = names[0];
  if (!cn || cn.length > 64 || isIP(cn)) return der.seq();
  return der.seq(der.set(der.seq(der.oid('2.5.4.3'), der.utf8(cn))));
}

function signed(tbs: Buffer, key: KeyObject): Buffer {
  const { alg, hash } = signatureAlgorithm(key);
  return der.seq(tbs, alg, der.bits(sign(hash, tbs, key)));
}

/** A PKCS#10 request for `names`, DER, signed with `key`. */
export function createCsr(names: string[], key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const extensionRequest = der.seq(der.oid('1.2.840.113549.1.9.14'), der.set(der.seq(subjectAltName(names))));
  const info = der.seq(der.uint(Buffer.from([0])), subject(names), spki, der.ctx(0, true, extensionRequest));
  return signed(info, key);
}

/**
 * The self-signed certificate of a tls-alpn-01 answer (RFC 8737): the name in SAN and the
 * SHA-256 of the key authorization in the critical acmeIdentifier extension.
 */
export function createTlsAlpn01Certificate(name: string, keyAuthorization: string, key: KeyObject): Buffer {
  const { alg } = signatureAlgorithm(key);
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const now = Date.now();
  const digest = createHash('sha256').update(keyAuthorization).digest();
  const acmeIdentifier = der.seq(der.oid('1.3.6.1.5.5.7.1.31'), der.bool(true), der.octets(der.octets(digest)));
  const tbs = der.seq(
    der.ctx(0, true, der.uint(Buffer.from([2]))),
    der.uint(randomBytes(16)),
    alg,
    subject([name]),
    der.seq(der.time(now - 86_400_000), der.time(now + 7 * 86_400_000)),
    subject([name]),
    spki,
    der.ctx(3, true, der.seq(subjectAltName([name]), acmeIdentifier)),
  );
  return signed(tbs, key);
}

export function derToPem(bytes: Buffer, label = 'CERTIFICATE'): string {
  const b64 = bytes.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
