import type { ReadinessGate } from './types';
import { certFacts } from './pem';

/**
 * The gate used until CT readiness is plugged in: a certificate is served once its notBefore
 * has passed by `marginMs`. CAs that backdate notBefore (Let's Encrypt by an hour) pass at
 * once; Pebble does not backdate, so its certificates rest for the margin.
 */
export function notBeforeGate(marginMs: number): ReadinessGate {
  return async ({ certPem }) => {
    const { notBefore } = certFacts(certPem);
    return {
      readyAt: notBefore + marginMs,
      reason: `notBefore ${new Date(notBefore).toISOString()} + ${Math.round(marginMs / 1000)} s margin`,
    };
  };
}
