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

export type Derive = (password: string, salt: Buffer, n: number, r: number, p: number) => Promise<Buffer>;

export const scryptKey: Derive = (password, salt, n, r, p) =>
  new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 128 * n * r * p + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );

/**
 * Checked in place of a user name nobody has, so that a wrong name costs the same derivation
 * as a wrong password and response times do not tell which names exist (the name is refused
 * whatever the outcome).
 */
const UNKNOWN_USER = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16, 1).toString('base64url')}$${Buffer.alloc(KEYLEN).toString('base64url')}`;

/**
 * Bounds the key derivations of this process. Each takes ~16 MB and ~40 ms on one of libuv's
 * four threads, which DNS lookups and file writes share: unbounded, a flood of bad passwords
 * would stall the whole process. Past `maxWaiting` a sign-in is refused at once rather than
 * queued: the guesses of a flood are then not even tried, memory and the wait of an attempt
 * that did get in stay small (a few hundred ms), and a visitor refused so can retry. Visitors
 * already signed in are unaffected, their credential being cached; keeping strangers from
 * the sign-in altogether is what `allow` is for.
 */
export class KeyDerivations {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly maxRunning = 2,
    private readonly maxWaiting = 16,
    private readonly derive: Derive = scryptKey,
  ) {}

  /** The key, or undefined at once when `maxWaiting` derivations wait already. */
  async key(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer | undefined> {
    if (this.running < this.maxRunning) {
      this.running++;
    } else {
      if (this.waiting.length >= this.maxWaiting) return undefined;
      // The slot is handed over by the derivation that finishes, so none is taken twice.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await this.derive(password, salt, n, r, p);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** The threadpool is per process, so is the bound. */
const processDerivations = new KeyDerivations();

/** `scrypt$N$r$p$salt$hash` for the config file. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptKey(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

async function verifyPassword(password: string, stored: string, derivations: KeyDerivations): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derivations.key(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
  return key !== undefined && key.length === expected.length && timingSafeEqual(key, expected);
}

export type BasicAuthConfig = z.infer<typeof BasicAuthSchema>;

export class BasicAuth {
  private readonly users: Map<string, string>;
  /** SHA-256 of accepted Authorization headers, oldest first (Map keeps insertion order). */
  private readonly accepted = new Map<string, true>();
  /**
   * Verifications under way, by the same digest: assets requested in parallel with a
   * credential not yet cached (after a restart) share one derivation instead of filling
   * the queue and being refused.
   */
  private readonly verifying = new Map<string, Promise<boolean>>();
  readonly challenge: string;

  constructor(
    config: BasicAuthConfig,
    private readonly derivations = processDerivations,
  ) {
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
    let verdict = this.verifying.get(digest);
    if (!verdict) {
      verdict = this.verify(name, decoded.slice(colon + 1), digest);
      this.verifying.set(digest, verdict);
      const done = () => this.verifying.delete(digest);
      verdict.then(done, done);
    }
    return (await verdict) ? name : undefined;
  }

  private async verify(name: string, password: string, digest: string): Promise<boolean> {
    const stored = this.users.get(name);
    const match = await verifyPassword(password, stored ?? UNKNOWN_USER, this.derivations);
    if (!match || stored === undefined) return false;
    if (this.accepted.size >= CACHE_MAX) this.accepted.delete(this.accepted.keys().next().value!);
    this.accepted.set(digest, true);
    return true;
  }
}
