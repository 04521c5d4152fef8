import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse as parseDomain } from 'tldts';
import type { Clock } from '../clock';
import { writeFileAtomic } from '../atomic-file';
import { HomeportError } from '../errors';
import { withLock } from '../certs/lock';
import { formatDuration } from './wording';

/**
 * A local ledger of what this installation asked of each CA, so Homeport can warn before a
 * published rate limit and refuse at it instead of burning the attempt. The CA's counters
 * are the truth (other machines may share a domain); the ledger only knows this host's
 * share, which is why a `rateLimited` answer is recorded and obeyed as told.
 *
 * Let's Encrypt meters its limits with token buckets (GCRA): a limit of N per window W
 * refills one unit every W/N. The ledger keeps the same state, a "theoretical arrival time"
 * per bucket, so its countdowns match when the CA will say yes again.
 */
export type LimitId = 'new-orders' | 'certs-per-domain' | 'duplicate-certs' | 'failed-validations';

export interface LimitSpec {
  id: LimitId;
  max: number;
  windowMs: number;
  /** How the CA phrases it, for messages. */
  label: string;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** https://letsencrypt.org/docs/rate-limits/ (as of 2025). */
export const LETS_ENCRYPT_LIMITS: readonly LimitSpec[] = [
  { id: 'new-orders', max: 300, windowMs: 3 * HOUR, label: 'new orders per account' },
  { id: 'certs-per-domain', max: 50, windowMs: 7 * DAY, label: 'certificates per registered domain' },
  { id: 'duplicate-certs', max: 5, windowMs: 7 * DAY, label: 'certificates for exactly the same names' },
  { id: 'failed-validations', max: 5, windowMs: HOUR, label: 'failed validations per name and account' },
];

/** https://letsencrypt.org/docs/staging-environment/ */
export const LETS_ENCRYPT_STAGING_LIMITS: readonly LimitSpec[] = [
  { id: 'new-orders', max: 1500, windowMs: 3 * HOUR, label: 'new orders per account' },
  { id: 'certs-per-domain', max: 30000, windowMs: 7 * DAY, label: 'certificates per registered domain' },
  { id: 'duplicate-certs', max: 30000, windowMs: 7 * DAY, label: 'certificates for exactly the same names' },
  { id: 'failed-validations', max: 200, windowMs: HOUR, label: 'failed validations per name and account' },
];

/** The limits Homeport meters for a CA (preset name or directory URL); CAs that publish none get none. */
export function publishedLimits(ca: string): readonly LimitSpec[] {
  if (ca === 'letsencrypt' || ca === 'https://acme-v02.api.letsencrypt.org/directory') return LETS_ENCRYPT_LIMITS;
  if (ca === 'letsencrypt-staging' || ca === 'https://acme-staging-v02.api.letsencrypt.org/directory') {
    return LETS_ENCRYPT_STAGING_LIMITS;
  }
  return [];
}

/** The registered domain ("example.co.uk" for "www.example.co.uk"), as CAs count it. */
export function registeredDomain(name: string): string {
  const bare = name.replace(/^\*\./, '');
  return parseDomain(bare, { allowPrivateDomains: true }).domain ?? bare;
}

export interface LedgerRequest {
  ca: string;
  /** Account URL; omitted when not known yet (then every account of the CA is considered). */
  account?: string;
  names: string[];
  /** A renewal of exactly these names: Let's Encrypt exempts it from the per-domain limit. */
  renewal?: boolean;
}

export interface LimitFinding {
  limit: LimitId;
  /** What the bucket counts: the account, the registered domain, the name set, the name. */
  scope: string;
  max: number;
  remaining: number;
  status: 'ok' | 'warn' | 'blocked';
  /** When the next unit is available (blocked) or when the bucket is full again. */
  retryAt?: number;
  message: string;
}

export interface LedgerAssessment {
  /** The ledger clock's time of the assessment. */
  now: number;
  status: 'ok' | 'warn' | 'blocked';
  /** Blocked: the earliest time the request can go out. */
  retryAt?: number;
  findings: LimitFinding[];
}

interface LedgerFile {
  version: 1;
  /** Bucket key → theoretical arrival time (ms). */
  buckets: Record<string, number>;
  /** Waits the CA imposed with a `rateLimited` answer. */
  waits: { ca: string; account?: string; names: string[]; until: number; detail: string }[];
}

const key = (ca: string, limit: LimitId, scope: string) => JSON.stringify([ca, limit, scope]);

type Change = (state: LedgerFile) => void;

/**
 * Several processes share the file (the app renews while `homeport issue` runs): every
 * change is a read-modify-write under <file>.lock, and refresh() reads what others wrote
 * before a decision. Changes made while a write is under way go out together in the next one.
 */
export class RateLimitLedger {
  private tail: Promise<unknown> = Promise.resolve();
  private batch?: { changes: Change[]; written: Promise<void> };

  private constructor(
    private readonly file: string,
    private readonly clock: Clock,
    private state: LedgerFile,
    private readonly limitsFor: (ca: string) => readonly LimitSpec[],
  ) {}

  /** `file` is usually <data>/rate-limits.json; a missing file is an empty ledger. */
  static async open(
    file: string,
    clock: Clock,
    limitsFor: (ca: string) => readonly LimitSpec[] = publishedLimits,
  ): Promise<RateLimitLedger> {
    return new RateLimitLedger(file, clock, await readLedger(file), limitsFor);
  }

  /** Reads what other processes recorded since (after this process's own pending writes). */
  refresh(): Promise<void> {
    const run = this.tail.then(async () => {
      this.state = await readLedger(this.file);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Would this order go through, as far as this host's own history tells? */
  assess(req: LedgerRequest): LedgerAssessment {
    const now = this.clock.now();
    const findings: LimitFinding[] = [];
    for (const spec of this.limitsFor(req.ca)) {
      for (const scope of this.scopes(spec.id, req)) {
        findings.push(this.finding(req.ca, spec, scope, now));
      }
    }
    for (const w of this.state.waits) {
      if (w.ca !== req.ca || w.until <= now) continue;
      if (req.account && w.account && w.account !== req.account) continue;
      if (w.names.length > 0 && !w.names.some((n) => req.names.includes(n))) continue;
      findings.push({
        limit: 'new-orders',
        scope: w.names.length ? w.names.join(', ') : 'account',
        max: 0,
        remaining: 0,
        status: 'blocked',
        retryAt: w.until,
        message: `The CA answered "rate limited" and asked to wait until ${new Date(w.until).toISOString()} (${formatDuration(w.until - now)} from now): ${w.detail}`,
      });
    }
    const blocked = findings.filter((f) => f.status === 'blocked');
    if (blocked.length) {
      return { now, status: 'blocked', retryAt: Math.max(...blocked.map((f) => f.retryAt ?? now)), findings };
    }
    return { now, status: findings.some((f) => f.status === 'warn') ? 'warn' : 'ok', findings };
  }

  /** The CA accepted a new order. */
  recordOrder(req: LedgerRequest & { account: string }): Promise<void> {
    return this.change(this.spend(req.ca, 'new-orders', req.account));
  }

  /** The CA issued a certificate for these names. */
  recordCertificate(req: LedgerRequest): Promise<void> {
    const spends = req.renewal ? [] : this.domains(req.names).map((d) => this.spend(req.ca, 'certs-per-domain', d));
    spends.push(this.spend(req.ca, 'duplicate-certs', nameSet(req.names)));
    return this.change((state) => spends.forEach((s) => s(state)));
  }

  /** A challenge for `identifier` failed validation. */
  recordFailedValidation(req: { ca: string; account: string; identifier: string }): Promise<void> {
    return this.change(this.spend(req.ca, 'failed-validations', `${req.account} ${req.identifier}`));
  }

  /** The CA answered `rateLimited`: obey its Retry-After (ms since epoch) for these names. */
  recordRateLimited(req: { ca: string; account?: string; names: string[]; retryAfter: number; detail: string }): Promise<void> {
    const wait = { ca: req.ca, account: req.account, names: [...req.names], until: req.retryAfter, detail: req.detail };
    return this.change((state) => state.waits.push(wait));
  }

  private scopes(limit: LimitId, req: LedgerRequest): string[] {
    switch (limit) {
      case 'new-orders':
        return req.account ? [req.account] : this.knownScopes(req.ca, limit);
      case 'certs-per-domain':
        return req.renewal ? [] : this.domains(req.names);
      case 'duplicate-certs':
        return [nameSet(req.names)];
      case 'failed-validations': {
        const accounts = req.account ? [req.account] : [...new Set(this.knownScopes(req.ca, limit).map((s) => s.split(' ')[0]))];
        return accounts.flatMap((a) => req.names.map((n) => `${a} ${n}`));
      }
    }
  }

  private domains(names: string[]): string[] {
    return [...new Set(names.map(registeredDomain))];
  }

  private knownScopes(ca: string, limit: LimitId): string[] {
    return Object.keys(this.state.buckets)
      .map((k) => JSON.parse(k) as [string, LimitId, string])
      .filter(([c, l]) => c === ca && l === limit)
      .map(([, , s]) => s);
  }

  private finding(ca: string, spec: LimitSpec, scope: string, now: number): LimitFinding {
    const interval = spec.windowMs / spec.max;
    const tat = Math.max(this.state.buckets[key(ca, spec.id, scope)] ?? now, now);
    const remaining = Math.max(0, Math.floor((spec.windowMs - (tat - now)) / interval + 1e-9));
    const window = formatDuration(spec.windowMs);
    const shown = spec.id === 'failed-validations' ? scope.split(' ').slice(1).join(' ') : scope;
    if (remaining === 0) {
      const retryAt = tat + interval - spec.windowMs;
      return {
        limit: spec.id,
        scope: shown,
        max: spec.max,
        remaining,
        status: 'blocked',
        retryAt,
        message: `The limit of ${spec.max} ${spec.label} per ${window} is reached for ${shown}: the next one is possible in ${formatDuration(retryAt - now)} (at ${new Date(retryAt).toISOString()}).`,
      };
    }
    const warn = remaining <= Math.ceil(spec.max / 5);
    return {
      limit: spec.id,
      scope: shown,
      max: spec.max,
      remaining,
      status: warn ? 'warn' : 'ok',
      retryAt: tat > now ? tat : undefined,
      message: `${remaining} of ${spec.max} ${spec.label} per ${window} left for ${shown}.`,
    };
  }

  /** A change to one bucket, timed now, to apply to whichever copy of the state is current. */
  private spend(ca: string, limit: LimitId, scope: string): Change {
    const spec = this.limitsFor(ca).find((s) => s.id === limit);
    const now = this.clock.now();
    const k = key(ca, limit, scope);
    return (state) => {
      if (spec) state.buckets[k] = Math.max(state.buckets[k] ?? now, now) + spec.windowMs / spec.max;
    };
  }

  /** Applies `change` here at once (assess sees it) and to the file in the next locked write. */
  private change(change: Change): Promise<void> {
    change(this.state);
    if (!this.batch) {
      const batch: { changes: Change[]; written: Promise<void> } = { changes: [], written: Promise.resolve() };
      batch.written = this.tail.then(() => {
        if (this.batch === batch) this.batch = undefined;
        return this.write(batch.changes);
      });
      this.tail = batch.written.catch(() => undefined);
      this.batch = batch;
    }
    this.batch.changes.push(change);
    return this.batch.written;
  }

  private write(changes: Change[]): Promise<void> {
    return withLock(`${this.file}.lock`, { what: 'the rate-limit ledger', waitMs: LOCK_WAIT_MS }, async () => {
      const state = await readLedger(this.file);
      for (const c of changes) c(state);
      const now = this.clock.now();
      // Full buckets and past waits carry no information.
      for (const [k, tat] of Object.entries(state.buckets)) if (tat <= now) delete state.buckets[k];
      state.waits = state.waits.filter((w) => w.until > now);
      await writeFileAtomic(this.file, JSON.stringify(state, null, 1) + '\n', { mode: 0o600 });
      this.state = state;
    });
  }
}

/** Writers hold the lock for a read and a small write; a longer wait means a stuck process. */
const LOCK_WAIT_MS = 10_000;

async function readLedger(file: string): Promise<LedgerFile> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as LedgerFile;
    if (parsed.version === 1) return { version: 1, buckets: parsed.buckets ?? {}, waits: parsed.waits ?? [] };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && !(e instanceof SyntaxError)) {
      throw new HomeportError('preflight.ledger-unreadable', `The rate-limit ledger ${file} cannot be read.`, {
        fix: `Check the permissions of ${path.dirname(file)}.`,
        cause: e,
      });
    }
    // A corrupt ledger is rebuilt empty: it is a cache of this host's activity, not the CA's truth.
  }
  return { version: 1, buckets: {}, waits: [] };
}

function nameSet(names: string[]): string {
  return [...new Set(names.map((n) => n.toLowerCase()))].sort().join(', ');
}
