import { X509Certificate } from 'node:crypto';
import type { Clock } from '../clock';
import type { RenewalWindow } from '../certs/types';

/**
 * When to renew: inside the CA's ACME Renewal Information window (RFC 9773) when it gives
 * one, else once a third of the lifetime remains, which suits 6-, 45- and 90-day
 * certificates alike. Pure functions of a certificate, a Clock and a random source, so the
 * scheduler can fast-forward them.
 */
export interface RenewalPlan {
  /** Milliseconds since epoch; at or before `now` means "renew now". */
  renewAt: number;
  source: 'ari' | 'lifetime';
  /** Plain-language reason, for status output. */
  reason: string;
  /** Ask the CA's renewalInfo again no sooner than this (ARI Retry-After). */
  checkAgainAt?: number;
}

export function lifetimeOf(certPem: string): { notBefore: number; notAfter: number } {
  const cert = new X509Certificate(certPem);
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

/**
 * Renew when a third of the lifetime remains, moved earlier by up to 1/30 of the lifetime
 * (3 days for 90-day certificates, under 5 hours for 6-day ones) so many certificates issued
 * together do not all renew in the same minute.
 */
export function planByLifetime(cert: { notBefore: number; notAfter: number }, random: () => number = Math.random): RenewalPlan {
  const lifetime = cert.notAfter - cert.notBefore;
  const third = cert.notAfter - lifetime / 3;
  const renewAt = Math.round(third - random() * (lifetime / 30));
  return {
    renewAt,
    source: 'lifetime',
    reason: `a third of the ${formatDuration(lifetime)} lifetime remains from ${new Date(third).toISOString()}`,
  };
}

/**
 * RFC 9773 §4.2: a uniformly random time inside the suggested window; a window already
 * over means renew now. A window that ends before it starts is ignored (lifetime instead).
 */
export function planRenewal(opts: {
  certPem: string;
  clock: Clock;
  window?: RenewalWindow;
  random?: () => number;
}): RenewalPlan {
  const random = opts.random ?? Math.random;
  const life = lifetimeOf(opts.certPem);
  const w = opts.window;
  if (!w || !(w.end > w.start)) {
    return { ...planByLifetime(life, random), checkAgainAt: w?.retryAfter };
  }
  const now = opts.clock.now();
  const checkAgainAt = w.retryAfter;
  if (w.end <= now) {
    return { renewAt: now, source: 'ari', reason: `the CA's renewal window ended ${new Date(w.end).toISOString()}${w.explanationUrl ? ` (${w.explanationUrl})` : ''}`, checkAgainAt };
  }
  const renewAt = Math.round(w.start + random() * (w.end - w.start));
  return {
    renewAt,
    source: 'ari',
    reason: `inside the CA's renewal window ${new Date(w.start).toISOString()} – ${new Date(w.end).toISOString()}${w.explanationUrl ? ` (${w.explanationUrl})` : ''}`,
    checkAgainAt,
  };
}

function formatDuration(ms: number): string {
  const days = ms / 86_400_000;
  return days >= 1 ? `${Math.round(days)}-day` : `${Math.round(ms / 3_600_000)}-hour`;
}
