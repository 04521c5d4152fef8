import { randomBytes, randomFillSync } from 'node:crypto';
import type * as tls from 'node:tls';

/** The keys a listener seals new tickets with, and the ones retired at the last rotation. */
export interface TicketKeySet {
  /** 48 bytes, Node's layout: key name (16), HMAC key (16), AES key (16). */
  current: Buffer;
  previous?: Buffer;
}

/** The native half of a tls.SecureContext: the hook is there since Node 0.12, undocumented. */
interface NativeContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => [number, Buffer, Buffer, Buffer?, Buffer?];
}

const OPEN_AND_RENEW = 2;
const NOT_OURS = 0;

/**
 * Makes the listener issue a fresh session ticket on every resumed handshake.
 *
 * Node opens tickets itself and tells OpenSSL "valid, keep it"; after a resumed TLS 1.3
 * handshake OpenSSL then sends no new ticket, and since a TLS 1.3 client spends each ticket
 * once, every other reconnect is a full handshake (measured with wrk, a new connection per
 * request: 50 % resumed against Node's default, 100 % against nginx). Through Node's
 * ticket-key callback the listener answers "valid, renew it" instead, and also opens tickets
 * sealed with the keys retired at the last rotation, so a rotation costs no client a full
 * handshake.
 *
 * OpenSSL asks the listener's own context whatever certificate SNI picked, so that is the
 * one hooked. Returns false where the hook is missing (another runtime): the caller then
 * hands the keys to Node's own handling, and resumption works every other time.
 */
export function renewSessionTickets(server: tls.Server, keys: () => TicketKeySet): boolean {
  const native = (server as unknown as { _sharedCreds?: { context?: NativeContext } })._sharedCreds?.context;
  if (typeof native?.enableTicketKeyCallback !== 'function') return false;
  // Runs twice per handshake: key parts are split once per rotation, IVs cut from a pool.
  let split: { keys: Buffer; parts: KeyParts } | undefined;
  const parts = (k: Buffer): KeyParts => {
    if (split?.keys !== k) split = { keys: k, parts: { name: k.subarray(0, 16), hmac: k.subarray(16, 32), aes: k.subarray(32, 48) } };
    return split.parts;
  };
  const ivs = new IvPool();
  native.enableTicketKeyCallback();
  native.onticketkeycallback = (name, _iv, encrypt) => {
    const { current, previous } = keys();
    const now = parts(current);
    if (encrypt) return [1, now.hmac, now.aes, now.name, ivs.next()];
    if (name.equals(now.name)) return [OPEN_AND_RENEW, now.hmac, now.aes];
    if (previous && name.equals(previous.subarray(0, 16))) return [OPEN_AND_RENEW, previous.subarray(16, 32), previous.subarray(32, 48)];
    // Node still wants well-formed keys with a refusal; the client gets a full handshake.
    return [NOT_OURS, now.hmac, now.aes];
  };
  return true;
}

interface KeyParts {
  name: Buffer;
  hmac: Buffer;
  aes: Buffer;
}

/**
 * Random 16-byte IVs, 256 per call into the CSPRNG. Node copies an IV into OpenSSL before
 * the callback returns, so the pool is refilled in place.
 */
class IvPool {
  private readonly pool = Buffer.alloc(16 * 256);
  private offset = this.pool.length;

  next(): Buffer {
    if (this.offset === this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    this.offset += 16;
    return this.pool.subarray(this.offset - 16, this.offset);
  }
}

export function newTicketKeys(): Buffer {
  return randomBytes(48);
}
