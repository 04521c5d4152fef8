import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cliPath, fixtures } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';
import { createCa, createLog, issueLeaf, logListJson } from './helpers/test-pki';

const dir = tmpDir();
const synthetic = path.join(fixtures, 'ct', 'synthetic');
const env = { ...process.env, HOMEPORT_DATA_DIR: path.join(dir, 'data') };

function ct(...args: string[]) {
  const r = spawnSync(process.execPath, [cliPath, 'ct', ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

// The synthetic vectors' test log, in a list of its own.
const syntheticKey = readFileSync(path.join(synthetic, 'ct-server-key-public.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
const syntheticList = path.join(dir, 'synthetic-list.json');
writeFileSync(
  syntheticList,
  JSON.stringify({
    version: '1',
    log_list_timestamp: '2013-01-01T00:00:00Z',
    operators: [
      {
        name: 'CT test',
        logs: [
          {
            description: 'Synthetic test log',
            log_id: '3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=',
            key: syntheticKey,
            url: 'https://ct.example/',
            mmd: 86400,
            state: { usable: { timestamp: '2012-01-01T00:00:00Z' } },
          },
        ],
      },
    ],
  }),
);

// A certificate with SCTs from two operators, leaf and issuer in one PEM file.
const ca = createCa();
const g = createLog('cli-google', 'Google');
const c = createLog('cli-cloudflare', 'Cloudflare');
const T = Date.UTC(2026, 5, 1, 8, 0, 0);
const leaf = issueLeaf({ ca, notBefore: T - 3_600_000, notAfter: T + 60 * 86_400_000, scts: [{ log: g, timestamp: T }, { log: c, timestamp: T + 3_000 }] });
const fullchain = path.join(dir, 'fullchain.pem');
writeFileSync(fullchain, leaf.pem + ca.pem);
const list = path.join(dir, 'list.json');
writeFileSync(list, logListJson([{ log: g, state: 'usable', since: 0 }, { log: c, state: 'usable', since: 0 }], T));

test('the JSON output has the documented shape; a private certificate is ready after notBefore + margin (exit 0)', () => {
  const r = ct(path.join(synthetic, 'test-embedded-cert.pem'), '--issuer', path.join(synthetic, 'ca-cert.pem'), '--log-list', syntheticList, '--json', '--at', '2013-06-01T00:00:00Z');
  assert.equal(r.code, 0, r.stderr);
  const j = r.json();
  assert.equal(j.applicable, false);
  assert.equal(j.ready, true);
  assert.equal(j.readyAt, '2012-06-01T00:00:05.000Z');
  assert.deepEqual(j.scts, [
    {
      logId: '3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=',
      timestamp: '2013-04-05T17:04:16.275Z',
      signatureValid: true,
      log: { name: 'Synthetic test log', operator: 'CT test', state: 'usable', kind: 'rfc6962', url: 'https://ct.example/' },
    },
  ]);
  for (const p of ['chrome', 'firefox', 'apple']) {
    assert.equal(typeof j.policies[p].compliant, 'boolean');
    assert.equal(typeof j.policies[p].reason, 'string');
  }
  assert.equal(j.policies.chrome.compliant, false, 'one SCT is not enough');
});

test('a certificate outside its validity is never READY: expired (readyAt null) or not valid yet, in words and JSON (exit 1)', () => {
  const args = [path.join(synthetic, 'test-embedded-cert.pem'), '--issuer', path.join(synthetic, 'ca-cert.pem'), '--log-list', syntheticList];
  const expired = ct(...args, '--json');
  assert.equal(expired.code, 1, expired.stderr);
  const j = expired.json();
  assert.equal(j.ready, false);
  assert.equal(j.readyAt, null);
  assert.match(j.reason, /^Expired on 2022-06-01T00:00:00\.000Z: no browser accepts it any more\. Renew it/);
  const text = ct(...args);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^NOT READY as of .*: Expired on 2022-06-01/m);
  assert.doesNotMatch(text.stdout, /^READY/m);

  const early = ct(...args, '--json', '--at', '2012-05-31T23:59:59Z');
  assert.equal(early.code, 1, early.stderr);
  assert.equal(early.json().ready, false);
  assert.equal(early.json().readyAt, '2012-06-01T00:00:05.000Z');
  assert.match(early.json().reason, /^Not valid yet: its validity starts 2012-06-01T00:00:00\.000Z/);
});

test('a certificate that expires before its last SCT + margin is never ready', () => {
  const l = issueLeaf({ ca, notBefore: T - 3_600_000, notAfter: T + 4_000, scts: [{ log: g, timestamp: T }, { log: c, timestamp: T + 3_000 }] });
  const f = path.join(dir, 'short.pem');
  writeFileSync(f, l.pem + ca.pem);
  const j = ct(f, '--log-list', list, '--public', '--json', '--at', new Date(T + 3_500).toISOString()).json();
  assert.equal(j.ready, false);
  assert.equal(j.readyAt, null);
  assert.match(j.reason, /^Never acceptable: it expires on .*, before every browser would accept it/);
});

test('the invalid vector shows signatureValid false', () => {
  const r = ct(path.join(synthetic, 'test-invalid-embedded-cert.pem'), '--issuer', path.join(synthetic, 'ca-cert.pem'), '--log-list', syntheticList, '--json');
  assert.equal(r.json().scts[0].signatureValid, false);
});

test('--at before readyAt: not ready (exit 1); at readyAt: ready (exit 0); issuer read from the same file', () => {
  const readyAt = new Date(T + 3_000 + 5_000).toISOString();
  const before = ct(fullchain, '--log-list', list, '--public', '--json', '--at', new Date(T + 2_000).toISOString());
  assert.equal(before.code, 1, before.stderr);
  const j = before.json();
  assert.equal(j.applicable, true);
  assert.equal(j.ready, false);
  assert.equal(j.readyAt, readyAt);
  assert.deepEqual(j.scts.map((s: { signatureValid: boolean; log: { operator: string } }) => [s.signatureValid, s.log.operator]), [
    [true, 'Google'],
    [true, 'Cloudflare'],
  ]);
  assert.equal(j.policies.chrome.compliant, true);
  const at = ct(fullchain, '--log-list', list, '--public', '--json', '--at', readyAt);
  assert.equal(at.code, 0, at.stderr);
  assert.equal(at.json().ready, true);
});

test('--margin moves readyAt and refuses less than 2 s', () => {
  const r = ct(fullchain, '--log-list', list, '--public', '--json', '--margin', '60', '--at', new Date(T).toISOString());
  assert.equal(r.json().readyAt, new Date(T + 63_000).toISOString());
  const bad = ct(fullchain, '--log-list', list, '--margin', '1');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /at least 2 seconds/);
});

test('human output lists SCTs, the three policies and the verdict', () => {
  const r = ct(fullchain, '--log-list', list, '--public', '--at', new Date(T + 60_000).toISOString());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /✔ 2026-06-01T08:00:00.000Z {2}cli-google \(Google, usable\) {2}signature valid/);
  assert.match(r.stdout, /Chrome {2}compliant/);
  assert.match(r.stdout, /Firefox compliant/);
  assert.match(r.stdout, /Apple {3}compliant/);
  assert.match(r.stdout, /READY as of/);
});

test('errors exit 2 with one line (and a JSON error with --json)', () => {
  const notCert = ct(path.join(fixtures, 'ct', 'log_list.json'), '--json');
  assert.equal(notCert.code, 2);
  assert.equal(notCert.json().error.code, 'ct.malformed-certificate');
  assert.equal(notCert.stderr.trim().split('\n').length, 1);
  const missing = ct(path.join(dir, 'nope.pem'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot read the certificate/);
  const both = ct(fullchain, '--public', '--private');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /contradict/);
  const badAt = ct(fullchain, '--at', 'tomorrow');
  assert.equal(badAt.code, 2);
  const noIssuer = ct(path.join(synthetic, 'test-embedded-cert.pem'));
  assert.equal(noIssuer.code, 2);
  assert.match(noIssuer.stderr, /--issuer/);
});

test('without --log-list the shipped, signature-checked snapshot is used', () => {
  const r = ct(fullchain, '--json', '--at', '2026-01-10T00:00:00Z');
  const j = r.json();
  assert.deepEqual(j.logList, { source: 'chrome', version: '80.14', timestamp: '2026-01-02T12:57:01.000Z' });
  assert.equal(j.scts[0].log, null, 'our test logs are not in the real list');
});

test('an SCT stamped after this machine\'s "now" warns that the clock is behind', () => {
  const future = Date.now() + 3_600_000;
  const l = issueLeaf({ ca, notBefore: future - 7_200_000, notAfter: future + 30 * 86_400_000, scts: [{ log: g, timestamp: future }, { log: c, timestamp: future + 1 }] });
  const f = path.join(dir, 'future.pem');
  writeFileSync(f, l.pem + ca.pem);
  const r = ct(f, '--log-list', list, '--public', '--json');
  assert.equal(r.code, 1);
  assert.ok(r.json().warnings.some((w: string) => /clock is about 3\d{3} s behind the SCT timestamps/.test(w)), r.stdout);
});

test('the issuer is found by name even when the chain is out of order', () => {
  const stranger = createCa('Unrelated CA');
  const f = path.join(dir, 'shuffled.pem');
  writeFileSync(f, leaf.pem + stranger.pem + ca.pem);
  const j = ct(f, '--log-list', list, '--public', '--json', '--at', new Date(T + 60_000).toISOString()).json();
  assert.deepEqual(j.scts.map((s: { signatureValid: boolean }) => s.signatureValid), [true, true]);
});
