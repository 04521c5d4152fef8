import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { planByLifetime, planRenewal } from '../../main/engine/acme/renewal';
import { ariCertId } from '../../main/engine/acme/ari';
import { nextRetry, BACKOFF_MAX_MS, BACKOFF_MIN_MS, RATE_LIMIT_MIN_MS } from '../../main/engine/acme/backoff';
import { AcmeProblemError, RateLimitReachedError } from '../../main/engine/acme/problems';
import { ManualClock } from '../../main/engine/clock';

const DAY = 86_400_000;

/** A certificate with the AKI and serial of RFC 9773's example, made by openssl. */
function rfcExampleCertificate(): string {
  requireTool('openssl');
  const dir = tmpDir();
  const f = (n: string) => path.join(dir, n);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '2', '-subj', '/CN=ARI example CA', '-addext', 'subjectKeyIdentifier=69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=ari.example');
  writeFileSync(f('ext'), 'authorityKeyIdentifier=keyid\n');
  openssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '0x87654321', '-out', f('leaf.pem'), '-days', '2', '-extfile', f('ext'));
  return readFileSync(f('leaf.pem'), 'utf8');
}

test('ARI certID matches RFC 9773 §4.1 (serial with a leading zero byte kept)', () => {
  assert.equal(ariCertId(rfcExampleCertificate()), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
});

test('without ARI, renewal comes when a third of the lifetime remains, for 6-, 45- and 90-day certificates', () => {
  for (const days of [6, 45, 90]) {
    const cert = { notBefore: Date.UTC(2026, 0, 1), notAfter: Date.UTC(2026, 0, 1) + days * DAY };
    const latest = planByLifetime(cert, () => 0);
    assert.equal(latest.renewAt, cert.notAfter - (days * DAY) / 3, `${days}-day: no jitter`);
    assert.equal(latest.source, 'lifetime');
    assert.match(latest.reason, new RegExp(`${days}-day lifetime`));
    const earliest = planByLifetime(cert, () => 1);
    assert.equal(earliest.renewAt, Math.round(cert.notAfter - (days * DAY) / 3 - (days * DAY) / 30), `${days}-day: jitter is at most 1/30 of the lifetime`);
    assert.ok(earliest.renewAt > cert.notBefore + (days * DAY) / 2, 'never in the first half of the lifetime');
  }
});

test('ARI: a random point inside the window, "now" for a window already over, lifetime rule for a nonsense window', () => {
  const certPem = rfcExampleCertificate();
  const clock = new ManualClock(Date.now());
  const now = clock.now();
  const window = { start: now + 10 * DAY, end: now + 12 * DAY };
  const picks = [0, 0.25, 0.999].map((r) => planRenewal({ certPem, clock, window, random: () => r }).renewAt);
  assert.deepEqual(picks, [window.start, window.start + DAY / 2, Math.round(window.start + 0.999 * 2 * DAY)]);
  const over = planRenewal({ certPem, clock, window: { start: now - 2 * DAY, end: now - DAY }, random: () => 0.5 });
  assert.equal(over.renewAt, now);
  assert.equal(over.source, 'ari');
  const backwards = planRenewal({ certPem, clock, window: { start: now + 2 * DAY, end: now + DAY }, random: () => 0 });
  assert.equal(backwards.source, 'lifetime');
});

test('back-off doubles from a minute up to six hours, always in the future, with jitter', () => {
  const clock = new ManualClock();
  const now = clock.now();
  const waits = [1, 2, 3, 4, 10, 50, 1e6].map((failures) => nextRetry({ clock, failures, random: () => 0.5 }).retryAt - now);
  assert.deepEqual(waits.slice(0, 4), [BACKOFF_MIN_MS, 2 * BACKOFF_MIN_MS, 4 * BACKOFF_MIN_MS, 8 * BACKOFF_MIN_MS]);
  assert.deepEqual(waits.slice(4), [BACKOFF_MAX_MS, BACKOFF_MAX_MS, BACKOFF_MAX_MS]);
  for (const r of [0, 1]) {
    const wait = nextRetry({ clock, failures: 3, random: () => r }).retryAt - now;
    assert.ok(wait >= 0.9 * 4 * BACKOFF_MIN_MS && wait <= 1.1 * 4 * BACKOFF_MIN_MS);
  }
  for (const failures of [0, -1, NaN, 1]) {
    assert.ok(nextRetry({ clock, failures, random: () => 0 }).retryAt >= now + BACKOFF_MIN_MS, `never loops (${failures})`);
  }
});

test('back-off honours rateLimited and Retry-After', () => {
  const clock = new ManualClock();
  const now = clock.now();
  const limited = new AcmeProblemError({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many' }, { ca: 'CA' });
  const r1 = nextRetry({ clock, failures: 1, error: limited, random: () => 0.5 });
  assert.equal(r1.retryAt, now + RATE_LIMIT_MIN_MS);
  assert.match(r1.reason, /rate-limiting/);
  const later = new AcmeProblemError({ type: 'urn:ietf:params:acme:error:rateLimited' }, { ca: 'CA', retryAfter: now + 3 * DAY });
  const r2 = nextRetry({ clock, failures: 1, error: later });
  assert.equal(r2.retryAt, now + 3 * DAY);
  assert.match(r2.reason, /Retry-After/);
  const sooner = new AcmeProblemError({ type: 'urn:ietf:params:acme:error:serverInternal' }, { ca: 'CA', retryAfter: now + 1_000 });
  assert.ok(nextRetry({ clock, failures: 5, error: sooner, random: () => 0.5 }).retryAt >= now + 16 * BACKOFF_MIN_MS, 'a short Retry-After does not shorten the back-off');
  const ledger = new RateLimitReachedError('CA', ['limit reached'], now + 2 * DAY);
  const r3 = nextRetry({ clock, failures: 1, error: ledger });
  assert.equal(r3.retryAt, now + 2 * DAY, 'the ledger\'s "possible again at" is waited for');
  assert.match(r3.reason, /rate limit allows the order again/);
});
