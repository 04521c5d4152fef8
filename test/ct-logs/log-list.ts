import { generateKeyPairSync, sign } from 'node:crypto';
import type { Rfc6962TestLog } from './rfc6962-log';
import type { StaticCtTestLog } from './static-ct-log';

/**
 * A Chrome-style v3 log list for the test logs, signed like Google's (RSA PKCS#1 v1.5,
 * SHA-256 over the exact JSON bytes) with a key of its own, so the code that loads the
 * real list loads this one unchanged: only the public key differs.
 */
export type TestLog = Rfc6962TestLog | StaticCtTestLog;
export type LogStateName = 'pending' | 'qualified' | 'usable' | 'readonly' | 'retired' | 'rejected';

export interface ListedLog {
  log: TestLog;
  state: LogStateName;
  /** When it entered that state (ms). */
  since: number;
  /** Accepts certificates expiring in [start, end) (ms). */
  temporalInterval?: { start: number; end: number };
}

export interface ListedOperator {
  name: string;
  logs: ListedLog[];
}

export interface SignedLogList {
  json: Buffer;
  signature: Buffer;
  publicKeyPem: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function entry(l: ListedLog): Record<string, unknown> {
  const common = {
    description: l.log.name,
    log_id: l.log.logId.toString('base64'),
    key: l.log.key.spki.toString('base64'),
    mmd: l.log.mmd,
    state: { [l.state]: { timestamp: iso(l.since) } },
    ...(l.temporalInterval && {
      temporal_interval: { start_inclusive: iso(l.temporalInterval.start), end_exclusive: iso(l.temporalInterval.end) },
    }),
  };
  return l.log.kind === 'rfc6962'
    ? { ...common, url: l.log.url }
    : { ...common, submission_url: l.log.url, monitoring_url: l.log.url };
}

export function buildLogList(operators: ListedOperator[], timestamp: number): SignedLogList {
  const listKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const list = {
    version: '1.0',
    log_list_timestamp: iso(timestamp),
    operators: operators.map((op) => ({
      name: op.name,
      email: [`ct@${op.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.test`],
      logs: op.logs.filter((l) => l.log.kind === 'rfc6962').map(entry),
      tiled_logs: op.logs.filter((l) => l.log.kind === 'static-ct').map(entry),
    })),
  };
  const json = Buffer.from(JSON.stringify(list, null, 2));
  return {
    json,
    signature: sign('sha256', json, listKey.privateKey),
    publicKeyPem: listKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
