import { HomeportError } from '../errors';
import type { ServingChoice } from '../config/schema';

/**
 * When a certificate is safe to show to every browser, and what to serve until then.
 *
 * readyAt = max(notBefore, the SCT timestamp from which every policy is met) + margin. The
 * margin absorbs visitors whose clocks run a little slow; browsers compare at one-second
 * precision, so it is never under 2 s.
 */
export interface ReadinessMargins {
  /** A first certificate has nothing to fall back to: keep the wait short. */
  firstIssuanceMs: number;
  /** A renewal can wait long: the previous certificate stays valid and keeps being served. */
  renewalMs: number;
}

export const MIN_MARGIN_MS = 2_000;
export const DEFAULT_MARGINS: ReadinessMargins = { firstIssuanceMs: 5_000, renewalMs: 3_600_000 };

/** Validates user settings (seconds or ms given as ms); a margin under 2 s is refused, not silently raised. */
export function readinessMargins(partial: Partial<ReadinessMargins> = {}): ReadinessMargins {
  const m = { ...DEFAULT_MARGINS, ...partial };
  for (const [k, v] of Object.entries(m)) {
    if (!Number.isFinite(v) || v < MIN_MARGIN_MS) {
      throw new HomeportError('ct.margin-too-small', `The CT readiness margin (${k}) must be at least 2 seconds; it is ${v} ms.`, {
        fix: 'Set it to 2 seconds or more: browsers compare SCT timestamps at one-second precision.',
      });
    }
  }
  return m;
}

export function marginFor(margins: ReadinessMargins, firstIssuance: boolean): number {
  return firstIssuance ? margins.firstIssuanceMs : margins.renewalMs;
}

/**
 * How a certificate that is not CT-ready yet is handled: the one policy type the lifecycle
 * (resting → active) and the proxy (handshakes) act on. Config holds the user's words for it
 * (config/schema.ts ServingChoice); servingPolicyFor translates.
 */
export type ServingPolicy =
  /** Keep the previous certificate active until this one is ready (default for renewals). */
  | { mode: 'hold' }
  /** Serve it at once and say when every browser accepts it (default for a first certificate). */
  | { mode: 'serve-now' }
  /** On-demand issuance: keep the visitor's TLS handshake waiting up to N seconds for readyAt. */
  | { mode: 'hold-handshake'; maxWaitSeconds: number };

export function defaultServingPolicy(firstIssuance: boolean): ServingPolicy {
  return firstIssuance ? { mode: 'serve-now' } : { mode: 'hold' };
}

/**
 * The policy for one issuance. The user's choice is about a first certificate, which has
 * nothing to fall back to; a renewal keeps the previous certificate until its successor is
 * ready, since serving it early only risks errors the old one would not cause.
 */
export function servingPolicyFor(choice: ServingChoice | undefined, firstIssuance: boolean): ServingPolicy {
  if (!firstIssuance || choice === undefined) return defaultServingPolicy(firstIssuance);
  if (choice === 'hold' || choice === 'serve-now') return { mode: choice };
  return { mode: 'hold-handshake', maxWaitSeconds: choice.holdHandshakeSeconds };
}

export type ServingDecision =
  | { action: 'serve'; reason: string; notifyAt?: number }
  | { action: 'keep-previous'; until: number | null; reason: string }
  | { action: 'wait'; until: number | null; reason: string }
  | { action: 'delay-handshake'; until: number; reason: string };

/**
 * What to do with a new certificate right now. `readyAt` null means browsers will never
 * accept it (e.g. a public certificate without SCTs): it is served only when the user chose
 * serve-now for a first certificate, never instead of a previous one.
 */
export function servingDecision(
  policy: ServingPolicy,
  readyAt: number | null,
  now: number,
  hasPrevious: boolean,
): ServingDecision {
  if (readyAt !== null && now >= readyAt) return { action: 'serve', reason: 'CT-ready: every browser accepts it.' };
  const when = readyAt === null ? 'never' : new Date(readyAt).toISOString();
  const never = 'Browsers will never accept the new certificate';
  switch (policy.mode) {
    case 'serve-now':
      return readyAt === null
        ? { action: 'serve', reason: 'Served now as chosen, though browsers will never accept it.' }
        : { action: 'serve', notifyAt: readyAt, reason: `Served now as chosen; every browser accepts it from ${when}.` };
    case 'hold':
      if (hasPrevious) {
        return {
          action: 'keep-previous',
          until: readyAt,
          reason: readyAt === null ? `${never}; the previous one stays active.` : `The previous certificate stays active until ${when}.`,
        };
      }
      return { action: 'wait', until: readyAt, reason: readyAt === null ? `${never}; it is held back as chosen.` : `Held until ${when} as chosen.` };
    case 'hold-handshake': {
      if (hasPrevious) {
        return { action: 'keep-previous', until: readyAt, reason: `The previous certificate stays active until ${when}.` };
      }
      // Waiting handshakes would never be released: only an explicit serve-now serves such a certificate.
      if (readyAt === null) return { action: 'wait', until: null, reason: `${never}; handshakes cannot wait for it, so it is not served.` };
      const until = Math.min(readyAt, now + policy.maxWaitSeconds * 1000);
      return {
        action: 'delay-handshake',
        until,
        reason:
          until === readyAt
            ? `Handshakes wait until ${when}, when every browser accepts it.`
            : `Handshakes wait at most ${policy.maxWaitSeconds} s; slow-clock visitors may see an error until ${when}.`,
      };
    }
  }
}
