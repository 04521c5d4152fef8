import type { RateLimitLedger } from './rate-limits';
import { registeredDomain } from './rate-limits';
import { check, CheckResult } from './types';
import { formatDuration } from './wording';
import { capitalized } from '../acme/cas';

/**
 * Check 7: the rate-limit ledger's view of the order these names would make. Findings that
 * concern a name (its registered domain, the exact name set, its failed validations, the
 * account) are shown with that name.
 */
export function checkRateLimits(
  ledger: RateLimitLedger | undefined,
  req: { ca: string; caName: string; account?: string; names: string[] },
): (name: string) => CheckResult {
  if (!ledger) return () => check('rate-limits', 'skip', 'No rate-limit ledger was given.');
  const a = ledger.assess(req);
  if (a.findings.length === 0) {
    return () =>
      check('rate-limits', 'pass', `${capitalized(req.caName)} publishes no rate limits Homeport meters; a "rate limited" answer from it is obeyed as told.`);
  }
  return (name) => {
    const domain = registeredDomain(name);
    const mine = a.findings.filter(
      (f) => f.scope === domain || f.scope === name || f.scope.split(', ').includes(name) || f.limit === 'new-orders',
    );
    const evidence = mine.map((f) => f.message);
    const blocked = mine.filter((f) => f.status === 'blocked');
    if (blocked.length) {
      const until = Math.max(...blocked.map((f) => f.retryAt ?? 0));
      return check(
        'rate-limits',
        'fail',
        `${capitalized(req.caName)} would refuse now: ${blocked.map((f) => f.message).join(' ')}`,
        evidence,
        `Wait ${formatDuration(until - a.now)} (until ${new Date(until).toISOString()}); Homeport will not send the order sooner. To experiment meanwhile, use the staging CA.`,
      );
    }
    const warn = mine.filter((f) => f.status === 'warn');
    if (warn.length) {
      return check(
        'rate-limits',
        'warn',
        `Close to the rate limits of ${req.caName}: ${warn.map((f) => f.message).join(' ')}`,
        evidence,
        'Avoid repeated attempts now: test with --dry-run (staging) until the check is clean.',
      );
    }
    return check('rate-limits', 'pass', `Within the rate limits of ${req.caName}.`, evidence);
  };
}
