import { createHash, createHmac, createPublicKey, sign, KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HomeportError } from '../errors';
import { AcmeProblemError, parseRetryAfter, type AcmeProblem } from './problems';
import { fetchDirectory, Transport, type AcmeDirectory, type HttpResponse } from './transport';

/**
 * RFC 8555 on node:crypto and node:https: JWS signing, a nonce pool, and the few resources
 * an issuance needs. Layered like node-acme-client (transport → this → issuer) but without
 * its axios/forge/x509 stack, which costs more to load than an issuance takes here.
 */
export interface AcmeOrder {
  url: string;
  status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  identifiers: { type: 'dns' | 'ip'; value: string }[];
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: AcmeProblem;
}

export interface AcmeChallenge {
  type: string;
  url: string;
  token: string;
  status: 'pending' | 'processing' | 'valid' | 'invalid';
  error?: AcmeProblem;
  validationRecord?: { url?: string; hostname?: string; port?: string; addressUsed?: string; addressesResolved?: string[] }[];
}

export interface AcmeAuthorization {
  url: string;
  identifier: { type: 'dns' | 'ip'; value: string };
  status: 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
  wildcard?: boolean;
  challenges: AcmeChallenge[];
}

export interface ExternalAccountBinding {
  kid: string;
  /** base64url HMAC key as the CA hands it out. */
  hmacKey: string;
}

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
}

export class AcmeClient {
  private dir?: Promise<AcmeDirectory>;
  private readonly nonces: string[] = [];
  private readonly jwk: Jwk;
  readonly thumbprint: string;
  accountUrl?: string;

  constructor(
    readonly transport: Transport,
    readonly directoryUrl: string,
    private readonly accountKey: KeyObject,
    /** What to call the CA in messages. */
    readonly label: string,
    /** The directory when already fetched (a session fetches it once for everyone). */
    directory?: Promise<AcmeDirectory>,
  ) {
    this.dir = directory;
    const jwk = createPublicKey(accountKey).export({ format: 'jwk' }) as unknown as Jwk;
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') throw new Error('account keys are ECDSA P-256');
    // RFC 7638: members in lexicographic order, no whitespace.
    this.jwk = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
    this.thumbprint = createHash('sha256').update(JSON.stringify(this.jwk)).digest('base64url');
  }

  directory(signal?: AbortSignal): Promise<AcmeDirectory> {
    this.dir ??= fetchDirectory(this.transport, this.directoryUrl, signal).catch((e: unknown) => {
      this.dir = undefined;
      throw e;
    });
    return this.dir;
  }

  keyAuthorization(token: string): string {
    return `${token}.${this.thumbprint}`;
  }

  private async nonce(): Promise<string> {
    const pooled = this.nonces.pop();
    if (pooled) return pooled;
    const res = await this.transport.request((await this.directory()).newNonce, { method: 'HEAD' });
    const n = res.headers['replay-nonce'];
    if (typeof n !== 'string') throw this.badResponse('no Replay-Nonce header on newNonce');
    return n;
  }

  private keep(res: HttpResponse): void {
    const n = res.headers['replay-nonce'];
    if (typeof n === 'string') this.nonces.push(n);
  }

  private jws(url: string, payload: unknown, nonce: string, useJwk: boolean): string {
    const header = useJwk ? { alg: 'ES256', nonce, url, jwk: this.jwk } : { alg: 'ES256', nonce, url, kid: this.accountUrl };
    const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
    const payloadB64 = payload === undefined ? '' : Buffer.from(JSON.stringify(payload)).toString('base64url');
    const signature = sign('sha256', Buffer.from(`${protectedB64}.${payloadB64}`), { key: this.accountKey, dsaEncoding: 'ieee-p1363' });
    return JSON.stringify({ protected: protectedB64, payload: payloadB64, signature: signature.toString('base64url') });
  }

  /**
   * A signed POST (`payload` undefined = POST-as-GET). Retries a rejected nonce (RFC 8555
   * §6.5) with the fresh one the error carries; any other problem becomes an AcmeProblemError.
   */
  async post(url: string, payload: unknown, opts: { useJwk?: boolean; signal?: AbortSignal } = {}): Promise<HttpResponse & { json: any }> {
    for (let attempt = 0; ; attempt++) {
      const nonce = await this.nonce();
      const res = await this.transport.request(url, {
        method: 'POST',
        body: this.jws(url, payload, nonce, opts.useJwk ?? false),
        headers: { 'content-type': 'application/jose+json' },
        signal: opts.signal,
      });
      this.keep(res);
      const type = String(res.headers['content-type'] ?? '');
      const json = type.includes('json') && res.body.length ? safeJson(res.body) : undefined;
      if (res.status < 400) return Object.assign(res, { json });
      const problem: AcmeProblem = json && typeof json === 'object' ? json : { detail: `HTTP ${res.status}` };
      problem.status ??= res.status;
      if (problem.type === 'urn:ietf:params:acme:error:badNonce' && attempt < 5) continue;
      throw new AcmeProblemError(problem, { ca: this.label, retryAfter: parseRetryAfter(res.headers['retry-after'], Date.now()) });
    }
  }

  badResponse(why: string): HomeportError {
    return new HomeportError('acme.bad-response', `The CA ${this.label} answered something unexpected: ${why}.`, {
      fix: 'Try again later; if it persists the CA may be misbehaving: use another CA.',
    });
  }

  /** newAccount: returns the account URL (an existing account with this key is found again). */
  async newAccount(opts: { email?: string; termsOfServiceAgreed: boolean; eab?: ExternalAccountBinding }): Promise<string> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = { termsOfServiceAgreed: opts.termsOfServiceAgreed };
    if (opts.email) payload.contact = [`mailto:${opts.email}`];
    if (opts.eab) {
      const prot = Buffer.from(JSON.stringify({ alg: 'HS256', kid: opts.eab.kid, url: dir.newAccount })).toString('base64url');
      const pay = Buffer.from(JSON.stringify(this.jwk)).toString('base64url');
      const mac = createHmac('sha256', Buffer.from(opts.eab.hmacKey, 'base64url')).update(`${prot}.${pay}`).digest('base64url');
      payload.externalAccountBinding = { protected: prot, payload: pay, signature: mac };
    }
    const res = await this.post(dir.newAccount, payload, { useJwk: true });
    const location = res.headers.location;
    if (typeof location !== 'string') throw this.badResponse('no account URL (Location) on newAccount');
    this.accountUrl = location;
    return location;
  }

  async newOrder(identifiers: AcmeOrder['identifiers'], opts: { replaces?: string; signal?: AbortSignal } = {}): Promise<AcmeOrder> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = { identifiers };
    if (opts.replaces) payload.replaces = opts.replaces;
    const res = await this.post(dir.newOrder, payload, { signal: opts.signal });
    const location = res.headers.location;
    if (typeof location !== 'string' || !res.json) throw this.badResponse('no order URL (Location) on newOrder');
    return { ...res.json, url: location };
  }

  async get<T>(url: string, signal?: AbortSignal): Promise<T & { url: string }> {
    const res = await this.post(url, undefined, { signal });
    if (!res.json) throw this.badResponse(`no JSON from ${url}`);
    return { ...res.json, url };
  }

  async respond(challenge: AcmeChallenge, signal?: AbortSignal): Promise<void> {
    await this.post(challenge.url, {}, { signal });
  }

  async finalize(order: AcmeOrder, csrDer: Buffer, signal?: AbortSignal): Promise<AcmeOrder> {
    const res = await this.post(order.finalize, { csr: csrDer.toString('base64url') }, { signal });
    return { ...res.json, url: order.url };
  }

  async downloadCertificate(url: string, signal?: AbortSignal): Promise<string> {
    const res = await this.post(url, undefined, { signal });
    return res.body.toString('utf8');
  }

  /**
   * Polls until `done` says so. Starts fast (a local or quick CA answers within tens of ms)
   * and backs off to seconds; a Retry-After from the CA lengthens the wait, never shortens it.
   */
  async poll<T extends { status: string }>(url: string, done: (x: T) => boolean, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T & { url: string }> {
    const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
    let delay = 15;
    for (;;) {
      const res = await this.post(url, undefined, { signal: opts.signal });
      const item = { ...(res.json as T), url };
      if (done(item)) return item;
      if (Date.now() > deadline) {
        throw new HomeportError('acme.timeout', `The CA ${this.label} kept ${url} "${item.status}" for too long.`, {
          fix: 'Try again later; the CA may be overloaded.',
        });
      }
      const retryAfter = parseRetryAfter(res.headers['retry-after'], Date.now());
      const wait = Math.max(delay, Math.min((retryAfter ?? 0) - Date.now(), 10_000));
      await sleep(wait, undefined, { signal: opts.signal });
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

function safeJson(body: Buffer): any {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export interface RenewalInfoResponse {
  window?: { start: string; end: string };
  explanationURL?: string;
  /** Retry-After of the response, ms since epoch. */
  retryAfter?: number;
}

/** RFC 9773 §4.2: GET <renewalInfo>/<certID>, unauthenticated; undefined when the CA has no ARI. */
export async function fetchRenewalInfo(transport: Transport, directory: AcmeDirectory, certId: string): Promise<RenewalInfoResponse | undefined> {
  if (!directory.renewalInfo) return undefined;
  const res = await transport.request(`${directory.renewalInfo.replace(/\/$/, '')}/${certId}`);
  if (res.status !== 200) return undefined;
  const json = safeJson(res.body) as { suggestedWindow?: { start: string; end: string }; explanationURL?: string } | undefined;
  return {
    window: json?.suggestedWindow,
    explanationURL: json?.explanationURL,
    retryAfter: parseRetryAfter(res.headers['retry-after'], Date.now()),
  };
}
