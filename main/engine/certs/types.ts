/**
 * The seams between certificate management (certs/), the ACME engine (acme/) and CT
 * readiness (ct/). The lifecycle asks an Issuer for a certificate, stores it, and lets a
 * ReadinessGate decide when it may be served; none of them knows how the others work.
 */
export type KeyType = 'ec256' | 'ec384' | 'rsa2048' | 'rsa3072' | 'rsa4096';
export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export interface IssueRequest {
  /** ASCII (punycode) DNS names, first one is the subject; `*.example.com` for wildcards. */
  names: string[];
  keyType: KeyType;
  /** Force a challenge; otherwise the issuer picks one that can work. */
  challenge?: ChallengeType;
  /** PEM of the certificate this one replaces (ARI `replaces`, RFC 9773). */
  replacing?: string;
  /** Human progress ("Asking Let's Encrypt for an order"), for the CLI and the UI. */
  onProgress?: (step: string) => void;
  signal?: AbortSignal;
}

export interface IssuedCertificate {
  /** Leaf certificate, PEM. */
  certPem: string;
  /** Intermediates (without the leaf), PEM, in order. */
  chainPem: string;
  /** Private key, PKCS#8 PEM. */
  keyPem: string;
  /** The CA that issued it: preset name (`letsencrypt`) or directory URL. */
  ca: string;
}

export interface Issuer {
  issue(req: IssueRequest): Promise<IssuedCertificate>;
  /** The CA's renewal window for a certificate it issued (`ca` as IssuedCertificate.ca), where the CA offers one. */
  renewalWindow?(certPem: string, ca: string): Promise<RenewalWindow | undefined>;
}

/** When the CA would like this certificate renewed (RFC 9773), if it says. */
export interface RenewalWindow {
  start: number;
  end: number;
  /** Ask again no sooner than this (the Retry-After of the renewalInfo response). */
  retryAfter?: number;
  explanationUrl?: string;
}

/** The verdict of a readiness gate for one certificate. */
export interface Readiness {
  /** Milliseconds since epoch from when every browser accepts it; null = never (say why). */
  readyAt: number | null;
  /** Plain-language reason for readyAt ("notBefore 12:00:03 + 2 s margin", "3 SCTs …"). */
  reason: string;
}

/** Pluggable: "notBefore + margin" until CT lands, then the CT verdict. */
export type ReadinessGate = (cert: { certPem: string; chainPem: string; firstIssuance: boolean }) => Promise<Readiness>;
