import type { SecureContext } from 'node:tls';

/**
 * Pending challenge answers, shared by whoever listens: the standalone challenge listeners
 * of `homeport issue` and the proxy's port-80 and port-443 listeners in `homeport serve`.
 * Solvers put answers here before telling the CA to validate and remove them afterwards.
 */
export class ChallengeStore {
  private readonly http01 = new Map<string, string>();
  private readonly tlsAlpn01 = new Map<string, SecureContext>();

  setHttp01(token: string, keyAuthorization: string): void {
    this.http01.set(token, keyAuthorization);
  }

  deleteHttp01(token: string): void {
    this.http01.delete(token);
  }

  /** The key authorization for GET /.well-known/acme-challenge/<token>, if pending. */
  getHttp01(token: string): string | undefined {
    return this.http01.get(token);
  }

  /** `name` is the lower-case ASCII server name the CA sends in SNI. */
  setTlsAlpn01(name: string, context: SecureContext): void {
    this.tlsAlpn01.set(name.toLowerCase(), context);
  }

  deleteTlsAlpn01(name: string): void {
    this.tlsAlpn01.delete(name.toLowerCase());
  }

  getTlsAlpn01(name: string): SecureContext | undefined {
    return this.tlsAlpn01.get(name.toLowerCase());
  }

  /** True while any tls-alpn-01 answer is pending: the 443 listener then offers acme-tls/1. */
  hasTlsAlpn01(): boolean {
    return this.tlsAlpn01.size > 0;
  }
}

export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';
export const ACME_TLS_ALPN = 'acme-tls/1';
