import type { Clock } from '../clock';
import { AcmeProblemError, RateLimitReachedError } from './problems';

/**
 * When to try again after a failed issuance or renewal: exponentially later (1 min, 2, 4 …
 * up to 6 h), never sooner than the CA's Retry-After, at least an hour after `rateLimited`,
 * and always strictly in the future, so a failure can never turn into a loop.
 */
export const BACKOFF_MIN_MS = 60_000;
export const BACKOFF_MAX_MS = 6 * 3_600_000;
export const RATE_LIMIT_MIN_MS = 3_600_000;

export interface RetryPlan {
  retryAt: number;
  reason: string;
}

export function nextRetry(opts: {
  clock: Clock;
  /** Consecutive failures so far, this one included (1 for the first). */
  failures: number;
  error?: unknown;
  random?: () => number;
}): RetryPlan {
  const now = opts.clock.now();
  const n = Number.isFinite(opts.failures) ? Math.max(1, Math.floor(opts.failures)) : 1;
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(n - 1, 30));
  // ±10 % so that many certificates failing together spread out again.
  const jittered = Math.round(base * (0.9 + 0.2 * (opts.random ?? Math.random)()));
  let retryAt = now + Math.max(BACKOFF_MIN_MS, Math.min(BACKOFF_MAX_MS, jittered));
  let reason = `attempt ${n} failed; waiting ${formatWait(retryAt - now)}`;
  const e = opts.error;
  if (e instanceof AcmeProblemError || e instanceof RateLimitReachedError) {
    if (e instanceof AcmeProblemError && e.shortType === 'rateLimited' && retryAt < now + RATE_LIMIT_MIN_MS) {
      retryAt = now + RATE_LIMIT_MIN_MS;
      reason = `the CA is rate-limiting; waiting ${formatWait(RATE_LIMIT_MIN_MS)}`;
    }
    if (e.retryAfter !== undefined && e.retryAfter > retryAt) {
      retryAt = e.retryAfter;
      reason = e instanceof RateLimitReachedError
        ? `the CA's rate limit allows the order again at ${new Date(e.retryAfter).toISOString()}`
        : `the CA asked to wait until ${new Date(e.retryAfter).toISOString()} (Retry-After)`;
    }
  }
  return { retryAt, reason };
}

function formatWait(ms: number): string {
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(ms % 3_600_000 === 0 ? 0 : 1)} h`;
}
