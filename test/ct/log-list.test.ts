import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  LOG_LIST_MAX_AGE_MS,
  logListAgeWarning,
  logListSignatureValid,
  operatorAt,
  parseLogList,
  stateAt,
} from '../../main/engine/ct/log-list';
import { shippedLogList } from '../../main/engine/ct/snapshot';
import { fixtures } from '../helpers/paths';
import { requireTool } from '../helpers/tools';

const dir = path.join(fixtures, 'ct');
const json = readFileSync(path.join(dir, 'log_list.json'));
const sig = readFileSync(path.join(dir, 'log_list.sig'));
const key = readFileSync(path.join(dir, 'log_list_pubkey.pem'), 'utf8');

test("the vector log list's signature verifies (and openssl agrees)", () => {
  assert.equal(logListSignatureValid(json, sig, key), true);
  requireTool('openssl');
  const out = execFileSync(
    'openssl',
    ['dgst', '-sha256', '-verify', path.join(dir, 'log_list_pubkey.pem'), '-signature', path.join(dir, 'log_list.sig'), path.join(dir, 'log_list.json')],
    { encoding: 'utf8' },
  );
  assert.match(out, /Verified OK/);
});

test('the shipped snapshot is the signed list of 2026-01-02 with 75 logs', () => {
  const list = shippedLogList();
  assert.equal(list.source, 'chrome');
  assert.equal(list.version, '80.14');
  assert.equal(new Date(list.timestamp).toISOString(), '2026-01-02T12:57:01.000Z');
  assert.equal(list.logs.size, 75);
  const kinds = [...list.logs.values()].map((l) => l.kind);
  assert.equal(kinds.filter((k) => k === 'static-ct').length, 26);
});

test('log entries: operator, state with timestamp, temporal interval, static-ct URLs', () => {
  const list = shippedLogList();
  const argon = list.logs.get('DleUvPOuqT4zGyyZB7P3kN+bwj1xMiXdIaklrGHFTiE=')!;
  assert.equal(argon.name, "Google 'Argon2026h1' log");
  assert.equal(argon.operator, 'Google');
  assert.equal(argon.kind, 'rfc6962');
  assert.deepEqual(argon.state, { name: 'usable', since: Date.parse('2024-09-30T22:19:27Z') });
  assert.deepEqual(argon.temporalInterval, { start: Date.parse('2026-01-01T00:00:00Z'), end: Date.parse('2026-07-01T00:00:00Z') });
  assert.equal(argon.mmd, 86400);
  const sycamore = list.logs.get('W/beU/H7+sSaGFl0aUWhpqconV5wpg9IRQ5Ya7mucrg=')!;
  assert.equal(sycamore.kind, 'static-ct');
  assert.equal(sycamore.url, 'https://log.sycamore.ct.letsencrypt.org/2025h2d/');
  assert.equal(sycamore.monitoringUrl, 'https://mon.sycamore.ct.letsencrypt.org/2025h2d/');
  assert.equal(sycamore.mmd, 60);
  const states = new Set([...list.logs.values()].map((l) => l.state?.name));
  assert.deepEqual([...states].sort(), ['qualified', 'readonly', 'retired', 'usable']);
});

test('state as of a time: the state before its timestamp is the one that precedes it', () => {
  const list = shippedLogList();
  const retired = [...list.logs.values()].find((l) => l.state?.name === 'retired' && l.name.includes('Yeti2025'))!;
  assert.equal(stateAt(retired, retired.state!.since), 'retired');
  assert.equal(stateAt(retired, retired.state!.since - 1), 'usable');
  const argon = list.logs.get('DleUvPOuqT4zGyyZB7P3kN+bwj1xMiXdIaklrGHFTiE=')!;
  assert.equal(stateAt(argon, Date.parse('2024-01-01T00:00:00Z')), 'qualified');
  assert.equal(operatorAt(argon, 0), 'Google');
});

test('older than 70 days: a warning; up to 70 days: none', () => {
  const list = shippedLogList();
  assert.equal(logListAgeWarning(list, list.timestamp + LOG_LIST_MAX_AGE_MS), undefined);
  assert.match(logListAgeWarning(list, list.timestamp + LOG_LIST_MAX_AGE_MS + 86_400_000) ?? '', /71 days old \(from 2026-01-02\)/);
});

test("Apple's list format parses (schema v3 with $schema, assetVersion, tiled_logs with tls_only)", () => {
  const apple = {
    $schema: 'https://valid.apple.com/ct/log_list/schema_versions/log_list_schema_v3.json',
    assetVersion: 812,
    operators: [
      {
        name: 'Google',
        email: ['google-ct-logs@googlegroups.com'],
        logs: [
          {
            description: "Google 'Argon2026h1' log",
            log_id: 'DleUvPOuqT4zGyyZB7P3kN+bwj1xMiXdIaklrGHFTiE=',
            key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEB/we6GOO/xwxivy4HhkrYFAAPo6e2nc346Wo2o2U+GvoPWSPJz91s/xrEvA3Bk9kWHUUXVZS5morFEzsgdHqPg==',
            url: 'https://ct.googleapis.com/logs/us1/argon2026h1/',
            mmd: 86400,
            state: { usable: { timestamp: '2024-09-30T22:19:27Z' } },
            temporal_interval: { start_inclusive: '2026-01-01T00:00:00Z', end_exclusive: '2026-07-01T00:00:00Z' },
          },
        ],
        tiled_logs: [
          {
            description: "Let's Encrypt 'Sycamore2026h1'",
            log_id: 'W/beU/H7+sSaGFl0aUWhpqconV5wpg9IRQ5Ya7mucrg=',
            key: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERI8grd3rsuE95/3Rk/Jn9rGBrpcvDqD6Y5Ooz1E+xABGl3w6JLdFHfzSFZvEFX/Goar6nbzQHtV75ud4R0Iafg==',
            submission_url: 'https://log.sycamore.ct.letsencrypt.org/2026h1/',
            monitoring_url: 'https://mon.sycamore.ct.letsencrypt.org/2026h1/',
            tls_only: true,
            state: { qualified: { timestamp: '2025-10-01T00:00:00Z' } },
          },
        ],
      },
    ],
  };
  const fetchedAt = Date.UTC(2026, 1, 1);
  const list = parseLogList(JSON.stringify(apple), 'apple', fetchedAt);
  assert.equal(list.source, 'apple');
  assert.equal(list.version, '812');
  assert.equal(list.timestamp, fetchedAt, 'no log_list_timestamp: the fetch time stands in');
  assert.equal(list.logs.size, 2);
  assert.equal(list.logs.get('W/beU/H7+sSaGFl0aUWhpqconV5wpg9IRQ5Ya7mucrg=')?.kind, 'static-ct');
  assert.equal(list.logs.get('W/beU/H7+sSaGFl0aUWhpqconV5wpg9IRQ5Ya7mucrg=')?.state?.name, 'qualified');
});
