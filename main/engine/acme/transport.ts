import * as https from 'node:https';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { HomeportError } from '../errors';
import { capitalized } from './cas';

/**
 * The connection to one CA, shared by acme-client's requests (acme-http.ts hands them this
 * agent) and the few plain GETs Homeport makes itself (directory pre-check, ARI): one
 * keep-alive agent, so a warm engine reuses one TLS connection; the CA's own trust bundle
 * when given, never mixed into the system store; the CA's `Date` header remembered for the
 * clock-skew check; and network failures put into words.
 * Loads no ACME library: the pre-flight and `homeport check` use it on their own.
 */
export interface ServerDate {
  /** The raw HTTP Date header (one-second resolution). */
  date: string;
  /** The CA's clock (its HTTP Date header), ms since epoch. */
  serverTime: number;
  /** Our clock when the request went out. */
  sentAt: number;
  /** Our clock when that response arrived. */
  localTime: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Reads a CA bundle (PEM) and checks that it holds at least one certificate. */
export function loadCaBundle(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (e) {
    throw new HomeportError('acme.ca-root-unreadable', `The CA root file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, {
      fix: 'Check the path given to --ca-root and that Homeport may read it.',
      cause: e,
    });
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const notPem = new HomeportError('acme.ca-root-invalid', `The CA root file ${file} holds no PEM certificate.`, {
    fix: 'Give the PEM file of the CA root ("-----BEGIN CERTIFICATE-----"), not a key, DER file or URL.',
  });
  if (blocks.length === 0) throw notPem;
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (e) {
      throw new HomeportError('acme.ca-root-invalid', `The CA root file ${file} holds a damaged certificate.`, {
        fix: 'Export the CA root again as PEM.',
        cause: e,
      });
    }
  }
  return blocks.join('\n') + '\n';
}

export class CaConnection {
  readonly agent: https.Agent;
  lastServerDate?: ServerDate;
  /** The directory's newNonce URL, once read, and unused nonces from the CA's answers. */
  newNonceUrl?: string;
  readonly nonces: string[] = [];

  constructor(
    /** What to call the CA in messages. */
    readonly label: string,
    opts: { caPem?: string } = {},
  ) {
    // Idle sockets close after 30 s (the timeout), before a CA or middlebox drops them silently.
    this.agent = new https.Agent({ keepAlive: true, ca: opts.caPem, maxSockets: 16, timeout: 30_000 });
  }

  /** Remembers the CA's clock from a response's Date header. */
  noteDate(date: unknown, sentAt: number): void {
    if (typeof date === 'string' && !Number.isNaN(Date.parse(date))) {
      this.lastServerDate = { date, serverTime: Date.parse(date), sentAt, localTime: Date.now() };
    }
  }

  /** A plain GET through this connection (the directory, ARI), with failures in words. */
  async get(url: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<HttpResponse> {
    const sentAt = Date.now();
    try {
      const res = await this.once(url, opts).catch((e: Error & { reusedSocket?: boolean; code?: string }) => {
        // A kept-alive socket the CA closed while idle fails at once: send again on a fresh one.
        if (e.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return this.once(url, opts);
        throw e;
      });
      this.noteDate(res.headers.date, sentAt);
      return res;
    } catch (e) {
      throw this.networkError(url, e);
    }
  }

  private once(url: string, opts: { timeoutMs?: number; signal?: AbortSignal }): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = https.get(url, { agent: this.agent, headers: { 'user-agent': 'homeport' }, signal: opts.signal, timeout: opts.timeoutMs ?? 30_000 }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
        r.on('error', reject);
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket })));
    });
  }

  /** "The CA Let's Encrypt at acme-v02.api.letsencrypt.org", or "The CA at 127.0.0.1:14000" for one named by where it is. */
  private named(host: string): string {
    return this.label.endsWith(host) ? capitalized(this.label) : `The CA ${this.label} at ${host}`;
  }

  /** Turns a socket or TLS failure into words: who could not be reached, why, and what to do. */
  networkError(url: string, e: unknown): unknown {
    if (e instanceof HomeportError || (e as Error)?.name === 'AbortError' || (e as Error)?.name === 'CanceledError') return e;
    const code = (e as NodeJS.ErrnoException)?.code ?? '';
    const host = new URL(url).host;
    if (TLS_TRUST_CODES.has(code)) {
      return new HomeportError('acme.directory-untrusted', `${this.named(host)} presented a TLS certificate Homeport does not trust (${code}).`, {
        fix: 'For a private CA (step-ca, Pebble) pass its root with --ca-root <pem>; check that the file is the root of this CA.',
        cause: e,
        details: { url, tlsCode: code },
      });
    }
    const why =
      code === 'ECONNREFUSED' ? 'the connection was refused'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'its name does not resolve'
      : code === 'ETIMEDOUT' || code === 'ECONNABORTED' ? 'it did not answer in time'
      : code === 'ECONNRESET' ? 'the connection was reset'
      : code || ((e as Error)?.message ?? String(e));
    return new HomeportError('acme.unreachable', `${this.named(host)} cannot be reached: ${why}.`, {
      fix: 'Check the directory URL, this machine\'s internet connection and any firewall; the CA may also be down (try again later or add a fallback CA).',
      cause: e,
      details: { url, networkCode: code },
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface AcmeDirectory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  revokeCert?: string;
  keyChange?: string;
  renewalInfo?: string;
  meta?: {
    termsOfService?: string;
    website?: string;
    caaIdentities?: string[];
    externalAccountRequired?: boolean;
    profiles?: Record<string, string>;
  };
}

/**
 * Fetches and checks the directory before acme-client sees the URL, so a wrong URL, an
 * untrusted certificate or an outage is reported at once, in words (acme-client would retry
 * for over a minute and end in a TypeError).
 */
export async function fetchDirectory(conn: CaConnection, url: string, signal?: AbortSignal): Promise<AcmeDirectory> {
  const res = await conn.get(url, { timeoutMs: 15_000, signal });
  const notDirectory = (why: string) =>
    new HomeportError('acme.not-a-directory', `${url} is not an ACME directory: ${why}.`, {
      fix: res.status >= 500
        ? 'The CA seems to be down: try again later or add a fallback CA.'
        : 'Check the URL: it must be the CA\'s ACME directory (for Let\'s Encrypt https://acme-v02.api.letsencrypt.org/directory).',
      details: { url, status: res.status },
    });
  if (res.status !== 200) throw notDirectory(`it answered HTTP ${res.status}`);
  let dir: unknown;
  try {
    dir = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw notDirectory('it did not answer JSON');
  }
  const d = dir as Partial<AcmeDirectory>;
  for (const key of ['newNonce', 'newAccount', 'newOrder'] as const) {
    if (typeof d[key] !== 'string') throw notDirectory(`it lacks "${key}"`);
  }
  conn.newNonceUrl = d.newNonce;
  return d as AcmeDirectory;
}
