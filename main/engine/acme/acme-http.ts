import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as AcmeClientModule from 'acme-client';
import type { AxiosAdapter, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { AcmeProblemError, parseRetryAfter, type AcmeProblem } from './problems';
import type { CaConnection } from './transport';

/**
 * acme-client, loaded on the first real ACME request (its axios, x509 and forge stack costs
 * more to load than a warm issuance takes, so `homeport --help`, `status`, `ct` and `export`
 * never load it), with its shared axios instance adapted to Homeport:
 *  - each request goes through the connection of the CA it is for (CaConnection: keep-alive
 *    agent, that CA's trust bundle; the system store is never touched), found through
 *    AsyncLocalStorage because acme-client's requests carry no per-client options;
 *  - the CA's Date header is recorded for the clock-skew check;
 *  - a socket or TLS failure becomes a plain HomeportError at once, not acme-client's five
 *    retries over ~75 s ending in a TypeError;
 *  - a 429/5xx is retried once inside the request only when its Retry-After is short;
 *    longer waits surface as a typed error so the next CA can be tried, and the back-off
 *    honours the Retry-After;
 *  - every ACME problem document becomes an AcmeProblemError (type, identifier, Retry-After)
 *    instead of acme-client's plain Error with the detail text only;
 *  - a pending order or authorization that says Retry-After is not polled sooner.
 */
export type AcmeModule = typeof AcmeClientModule;

interface RequestContext {
  conn: CaConnection;
  signal?: AbortSignal;
}

const context = new AsyncLocalStorage<RequestContext>();

/** Longest Retry-After a single request may sleep through before answering with a typed error. */
const IN_REQUEST_RETRY_MAX_S = 10;
/** Longest a pending object's Retry-After holds one poll (the poll loop then backs off on its own). */
const PENDING_RETRY_AFTER_MAX_MS = 10_000;

const BAD_NONCE = 'urn:ietf:params:acme:error:badNonce';

let loaded: AcmeModule | undefined;

/** Runs `fn` with acme-client's requests going through `conn` (and aborted by `signal`). */
export function withConnection<T>(conn: CaConnection, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  return context.run({ conn, signal }, fn);
}

export function acme(): AcmeModule {
  if (loaded) return loaded;
  // acme-client's index also loads node-forge for its legacy API, which Homeport never uses:
  // the three parts it does use are loaded directly (≈10 ms less on every cold start).
  const mod = {
    Client: require('acme-client/src/client'),
    crypto: require('acme-client/src/crypto'),
    axios: require('acme-client/src/axios'),
  } as AcmeModule;
  // The axios acme-client itself resolves, for its node http adapter.
  const axios = require(require.resolve('axios', { paths: [require.resolve('acme-client')] })) as { getAdapter(name: string): AxiosAdapter };
  const http = axios.getAdapter('http');
  const instance = mod.axios;
  const settings = (instance.defaults as unknown as { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
  settings.retryMaxAttempts = 1;
  settings.retryDefaultDelay = 1;
  instance.defaults.headers.common['User-Agent'] = `homeport ${String(instance.defaults.headers.common['User-Agent'])}`;

  instance.interceptors.request.use((config) => {
    const ctx = context.getStore();
    config.timeout ||= 30_000;
    if (!ctx) return config;
    config.httpsAgent = ctx.conn.agent;
    if (ctx.signal) config.signal = ctx.signal;
    config.adapter = (cfg) => send(http, ctx, cfg, settings.retryMaxAttempts);
    return config;
  });
  // Registered after acme-client's retry interceptor, so this sees the final response.
  instance.interceptors.response.use(async (res: AxiosResponse) => {
    const ctx = context.getStore();
    if (res.status >= 400) {
      const problem = asProblem(res.data, res.status);
      if (problem.type !== BAD_NONCE) {
        throw new AcmeProblemError(problem, { ca: ctx?.conn.label ?? new URL(String(res.config.url)).host, retryAfter: parseRetryAfter(res.headers['retry-after'], Date.now()) });
      }
    } else if (res.status === 200 && isPending(res.data)) {
      const until = parseRetryAfter(res.headers['retry-after'], Date.now());
      if (until !== undefined && until > Date.now()) await sleep(Math.min(until - Date.now(), PENDING_RETRY_AFTER_MAX_MS), undefined, { signal: ctx?.signal });
    }
    return res;
  });
  loaded = mod;
  return mod;
}

/**
 * One HTTP exchange with the CA. acme-client makes axios reject every response (its retry
 * interceptor then sorts them out), so a rejection with a response is an answer, passed on;
 * one without is a network failure and leaves here as a HomeportError without an axios
 * `config`, which acme-client's interceptor passes through untouched.
 */
async function send(http: AxiosAdapter, ctx: RequestContext, cfg: InternalAxiosRequestConfig, maxAttempts: number): Promise<AxiosResponse> {
  const url = String(cfg.url);
  // acme-client asks newNonce before every signed request; every CA response carries a fresh
  // nonce (RFC 8555 §7.2), so one kept from the last answer saves that round trip.
  const pooled = cfg.method?.toLowerCase() === 'head' && url === ctx.conn.newNonceUrl ? ctx.conn.nonces.pop() : undefined;
  if (pooled) return { status: 200, statusText: 'OK', headers: { 'replay-nonce': pooled }, data: '', config: cfg, request: undefined };
  const sentAt = Date.now();
  const answered = (res: AxiosResponse) => {
    ctx.conn.noteDate(res.headers.date, sentAt);
    const nonce = res.headers['replay-nonce'];
    // Not from HEAD newNonce (acme-client uses that one) nor from errors (a badNonce retry does).
    if (typeof nonce === 'string' && res.status < 400 && cfg.method?.toLowerCase() !== 'head') ctx.conn.nonces.push(nonce);
    if (res.status === 429 || res.status >= 500) {
      const until = parseRetryAfter(res.headers['retry-after'] as string | undefined, Date.now());
      if (until !== undefined && until - Date.now() > IN_REQUEST_RETRY_MAX_S * 1000) {
        // acme-client counts its retries on the request config: mark them used up.
        (cfg as { retryAttempt?: number }).retryAttempt = maxAttempts;
      }
    }
    return res;
  };
  type Failure = { response?: AxiosResponse; code?: string; request?: { reusedSocket?: boolean } };
  const attempt = (retried: boolean): Promise<AxiosResponse> =>
    http(cfg).then(answered, (e: Failure) => {
      if (e.response) {
        answered(e.response);
        throw e;
      }
      // A kept-alive socket the CA closed while idle fails at once: send again on a fresh one.
      if (!retried && e.request?.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) return attempt(true);
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      throw ctx.conn.networkError(url, e);
    });
  return attempt(false);
}

function asProblem(data: unknown, status: number): AcmeProblem {
  let body = data;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    try {
      body = JSON.parse(body.toString());
    } catch {
      body = undefined;
    }
  }
  const problem: AcmeProblem = body && typeof body === 'object' ? { ...(body as AcmeProblem) } : { detail: `HTTP ${status}` };
  problem.status ??= status;
  return problem;
}

function isPending(data: unknown): boolean {
  const status = (data as { status?: unknown } | undefined)?.status;
  return status === 'pending' || status === 'processing';
}
