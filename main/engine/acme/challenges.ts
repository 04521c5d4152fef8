import type { SecureContext } from 'node:tls';

/** A tls-alpn-01 validation certificate (RFC 8737) and its key, as PEM. */
export interface TlsAlpn01Pem {
  certPem: string;
  keyPem: string;
}

/**
 * Pending challenge answers, shared by whoever listens: the standalone challenge listeners
 * of `homeport issue` and the proxy's port-80 and port-443 listeners in `homeport serve`.
 * Solvers put answers here before telling the CA to validate and remove them afterwards.
 * A setter may return a promise (a store whose listeners run in other processes resolves it
 * once they all have the answer); solvers await it before the CA is told to look.
 */
export class ChallengeStore {
  private readonly http01 = new Map<string, string>();
  private readonly tlsAlpn01 = new Map<string, { context: SecureContext; pem?: TlsAlpn01Pem }>();

  setHttp01(token: string, keyAuthorization: string): void | Promise<void> {
    this.http01.set(token, keyAuthorization);
  }

  deleteHttp01(token: string): void {
    this.http01.delete(token);
  }

  /** The key authorization for GET /.well-known/acme-challenge/<token>, if pending. */
  getHttp01(token: string): string | undefined {
    return this.http01.get(token);
  }

  /**
   * `name` is the lower-case ASCII server name the CA sends in SNI. The PEMs the context was
   * made from let the answer reach proxy worker processes (a SecureContext cannot cross).
   */
  setTlsAlpn01(name: string, context: SecureContext, pem?: TlsAlpn01Pem): void | Promise<void> {
    this.tlsAlpn01.set(name.toLowerCase(), { context, pem });
  }

  deleteTlsAlpn01(name: string): void {
    this.tlsAlpn01.delete(name.toLowerCase());
  }

  getTlsAlpn01(name: string): SecureContext | undefined {
    return this.tlsAlpn01.get(name.toLowerCase())?.context;
  }

  getTlsAlpn01Pem(name: string): TlsAlpn01Pem | undefined {
    return this.tlsAlpn01.get(name.toLowerCase())?.pem;
  }

  /** True while any tls-alpn-01 answer is pending: the 443 listener then offers acme-tls/1. */
  hasTlsAlpn01(): boolean {
    return this.tlsAlpn01.size > 0;
  }
}

export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';
export const ACME_TLS_ALPN = 'acme-tls/1';
