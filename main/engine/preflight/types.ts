import type { ChallengeType } from '../certs/types';

/**
 * What every pre-flight check returns, and the report they add up to. The ids are stable:
 * scripts read them from `homeport check --json`, and the README lists them.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export type CheckId =
  | 'name'
  | 'public-address'
  | 'dns'
  | 'caa'
  | 'ports'
  | 'hairpin'
  | 'dry-run'
  | 'cdn'
  | 'rate-limits'
  | 'challenge';

/** Report order: the order a person fixes things in. */
export const CHECK_IDS: readonly CheckId[] = [
  'name',
  'public-address',
  'dns',
  'caa',
  'ports',
  'hairpin',
  'dry-run',
  'cdn',
  'rate-limits',
  'challenge',
];

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** One or two plain sentences: what was found and why it matters. */
  summary: string;
  /** The facts behind the summary, one per line ("AAAA www.example.com → 2001:db8::1 (ns1.example.com)"). */
  evidence: string[];
  /** What to do; null when nothing needs doing. */
  fix: string | null;
}

export interface NameReport {
  name: string;
  checks: CheckResult[];
}

export type Verdict = 'ready' | 'blocked';

export interface PreflightReport {
  verdict: Verdict;
  /** The challenge that works for every name, or null when none does (see the `challenge` checks). */
  recommendedChallenge: ChallengeType | null;
  names: NameReport[];
}

export function check(
  id: CheckId,
  status: CheckStatus,
  summary: string,
  evidence: string[] = [],
  fix: string | null = null,
): CheckResult {
  return { id, status, summary, evidence, fix };
}

/**
 * Failures that hold whatever the network does (the CAA records forbid the CA, as opposed to
 * a CAA lookup that failed). Kept beside the results, not in them: the JSON shape of a check
 * is a documented contract.
 */
const conclusive = new WeakSet<CheckResult>();

export function conclusiveFail(result: CheckResult): CheckResult {
  conclusive.add(result);
  return result;
}

export function isConclusive(result: CheckResult): boolean {
  return conclusive.has(result);
}
