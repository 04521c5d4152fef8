import { scrypt, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { BasicAuthSchema } from '../config/routes';
import type { z } from 'zod';

/**
 * Basic auth with scrypt-hashed passwords. scrypt is slow on purpose, so a credential that
 * verified once is remembered (by a SHA-256 of the header, never the password itself) and
 * later requests cost one hash lookup, not one scrypt: a keep-alive page load with fifty
 * assets must not pay fifty key derivations.
 */
const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;
const CACHE_MAX = 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 128 * n * r * p + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash` for the config file. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export type BasicAuthConfig = z.infer<typeof BasicAuthSchema>;

export class BasicAuth {
  private readonly users: Map<string, string>;
  /** SHA-256 of accepted Authorization headers, oldest first (Map keeps insertion order). */
  private readonly accepted = new Map<string, true>();
  readonly challenge: string;

  constructor(config: BasicAuthConfig) {
    this.users = new Map(config.users.map((u) => [u.name, u.hash]));
    this.challenge = `Basic realm="${config.realm}", charset="UTF-8"`;
  }

  /** Resolves to the user name when `authorization` carries a valid user and password. */
  async check(authorization: string | undefined): Promise<string | undefined> {
    if (!authorization || !/^basic /i.test(authorization)) return undefined;
    const digest = createHash('sha256').update(authorization).digest('base64');
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const name = decoded.slice(0, colon);
    if (this.accepted.has(digest)) return name;
    const stored = this.users.get(name);
    if (!stored || !(await verifyPassword(decoded.slice(colon + 1), stored))) return undefined;
    if (this.accepted.size >= CACHE_MAX) this.accepted.delete(this.accepted.keys().next().value!);
    this.accepted.set(digest, true);
    return name;
  }
}
