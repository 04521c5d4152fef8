import { KeyObject, createPublicKey, verify } from 'node:crypto';
import { z } from 'zod';
import { HomeportError } from '../errors';
import { logKeyFromSpki } from './verify';

/**
 * CT log lists: Chrome's v3 list (signed by Google, also what Firefox ships) and Apple's list
 * (same v3 shape, served over HTTPS without a detached signature). Both become one
 * normalized LogList that the policies read.
 */
export type LogStateName = 'pending' | 'qualified' | 'usable' | 'readonly' | 'retired' | 'rejected';
const STATES: LogStateName[] = ['pending', 'qualified', 'usable', 'readonly', 'retired', 'rejected'];

export interface CtLog {
  logId: string;
  /** base64 DER SubjectPublicKeyInfo. */
  key: string;
  name: string;
  /** Operator today; `operatorAt` gives the one that ran the log at a given time. */
  operator: string;
  /** Earlier operators, oldest first, each with the time it stopped running the log. */
  previousOperators: { name: string; endTime: number }[];
  /** `rfc6962` for `logs`, `static-ct` for `tiled_logs`. */
  kind: 'rfc6962' | 'static-ct';
  /** RFC 6962 base URL, or the static-ct-api submission URL. */
  url: string;
  monitoringUrl?: string;
  /** Maximum merge delay, seconds. */
  mmd: number;
  state: { name: LogStateName; since: number } | null;
  temporalInterval?: { start: number; end: number };
}

export interface LogList {
  source: 'chrome' | 'apple';
  version: string;
  /** When the publisher produced it (ms); Apple's may lack one: then the time it was fetched. */
  timestamp: number;
  logs: Map<string, CtLog>;
}

const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a date-time');
const stateShape = z.object(Object.fromEntries(STATES.map((s) => [s, z.object({ timestamp: time }).optional()])));
const logShape = z.object({
  description: z.string(),
  log_id: z.string(),
  key: z.string(),
  url: z.string().optional(),
  submission_url: z.string().optional(),
  monitoring_url: z.string().optional(),
  mmd: z.number().optional(),
  state: stateShape.optional(),
  temporal_interval: z.object({ start_inclusive: time, end_exclusive: time }).optional(),
  previous_operators: z.array(z.object({ name: z.string(), end_time: time })).optional(),
});
const listShape = z.object({
  version: z.union([z.string(), z.number()]).optional(),
  log_list_timestamp: time.optional(),
  assetVersion: z.union([z.string(), z.number()]).optional(),
  operators: z.array(
    z.object({ name: z.string(), logs: z.array(logShape).optional(), tiled_logs: z.array(logShape).optional() }),
  ),
});

export function badLogList(what: string, cause?: unknown): HomeportError {
  return new HomeportError('ct.bad-log-list', `The CT log list cannot be used: ${what}.`, {
    fix: 'Use the log list Homeport ships (leave --log-list out) or download log_list.json again from https://www.gstatic.com/ct/log_list/v3/.',
    cause,
  });
}

/** Parses a log list JSON (Chrome v3 or Apple); `fetchedAt` stands in for a missing timestamp. */
export function parseLogList(json: string | Uint8Array, source: LogList['source'], fetchedAt = Date.now()): LogList {
  let raw: unknown;
  try {
    raw = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'));
  } catch (e) {
    throw badLogList('it is not JSON', e);
  }
  const parsed = listShape.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badLogList(`${issue.path.join('.') || 'the top level'}: ${issue.message}`);
  }
  const list = parsed.data;
  const logs = new Map<string, CtLog>();
  for (const op of list.operators) {
    for (const [kind, entries] of [['rfc6962', op.logs], ['static-ct', op.tiled_logs]] as const) {
      for (const l of entries ?? []) {
        const stateName = STATES.find((s) => l.state?.[s]);
        const url = l.url ?? l.submission_url;
        if (!url) throw badLogList(`the log "${l.description}" has no URL`);
        if (Buffer.from(l.log_id, 'base64').length !== 32) throw badLogList(`the log "${l.description}" has a malformed log_id`);
        logs.set(l.log_id, {
          logId: l.log_id,
          key: l.key,
          name: l.description,
          operator: op.name,
          previousOperators: (l.previous_operators ?? [])
            .map((p) => ({ name: p.name, endTime: Date.parse(p.end_time) }))
            .sort((a, b) => a.endTime - b.endTime),
          kind,
          url,
          monitoringUrl: l.monitoring_url,
          mmd: l.mmd ?? 86_400,
          state: stateName ? { name: stateName, since: Date.parse(l.state![stateName]!.timestamp) } : null,
          temporalInterval: l.temporal_interval && {
            start: Date.parse(l.temporal_interval.start_inclusive),
            end: Date.parse(l.temporal_interval.end_exclusive),
          },
        });
      }
    }
  }
  const version = list.version ?? list.assetVersion;
  return {
    source,
    version: version === undefined ? 'unknown' : String(version),
    timestamp: list.log_list_timestamp ? Date.parse(list.log_list_timestamp) : fetchedAt,
    logs,
  };
}

/** Google's list signature: RSA PKCS#1 v1.5 with SHA-256 over the exact JSON bytes. */
export function logListSignatureValid(json: Uint8Array, signature: Uint8Array, publicKey: string | KeyObject): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  try {
    return verify('sha256', json, key, signature);
  } catch {
    return false;
  }
}

/** Parses a Chrome list after checking its signature; a bad signature is an error, never a fallback. */
export function parseSignedLogList(json: Uint8Array, signature: Uint8Array, publicKey: string | KeyObject, fetchedAt?: number): LogList {
  if (!logListSignatureValid(json, signature, publicKey)) {
    throw badLogList("its signature does not verify with Google's log list key, so it may have been altered");
  }
  return parseLogList(json, 'chrome', fetchedAt);
}

/**
 * The log's state as of `at`. The list only gives the current state and since when; before
 * that the log was in the state that normally precedes it (a retired or read-only log was
 * usable, a usable one qualified, a qualified one pending).
 */
export function stateAt(log: CtLog, at: number): LogStateName | null {
  const s = log.state;
  if (!s) return null;
  if (at >= s.since) return s.name;
  switch (s.name) {
    case 'retired':
    case 'readonly':
      return 'usable';
    case 'usable':
      return 'qualified';
    default:
      return 'pending';
  }
}

/** Who ran the log at `at` (operator changes are listed in previous_operators). */
export function operatorAt(log: CtLog, at: number): string {
  for (const p of log.previousOperators) if (at < p.endTime) return p.name;
  return log.operator;
}

/** Log keys are parsed once per list and reused for every SCT check. */
const keyCache = new WeakMap<CtLog, KeyObject>();
export function logKey(log: CtLog): KeyObject {
  let k = keyCache.get(log);
  if (!k) {
    k = logKeyFromSpki(log.key);
    keyCache.set(log, k);
  }
  return k;
}

/** Chrome treats its own list as stale after 70 days (10 weeks); so do we. */
export const LOG_LIST_MAX_AGE_MS = 70 * 86_400_000;

/** A warning when the list is too old to judge by, else undefined. */
export function logListAgeWarning(list: LogList, now: number): string | undefined {
  const days = Math.floor((now - list.timestamp) / 86_400_000);
  if (now - list.timestamp <= LOG_LIST_MAX_AGE_MS) return undefined;
  return `The CT log list in use is ${days} days old (from ${new Date(list.timestamp).toISOString().slice(0, 10)}); logs may have changed state since. Homeport refreshes it daily when it can reach www.gstatic.com.`;
}
