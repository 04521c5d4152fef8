import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ManualClock } from '../../main/engine/clock';
import { checkCertificate } from '../../main/engine/ct/check';
import { ctReadinessGate } from '../../main/engine/ct/gate';
import { ctStatus } from '../../main/engine/ct/status';
import { parseLogList } from '../../main/engine/ct/log-list';
import { DEFAULT_MARGINS, readinessMargins, servingDecision } from '../../main/engine/ct/readiness';
import { createCa, createLog, issueLeaf, logListJson } from './helpers/test-pki';

const ca = createCa();
const google = createLog('g-log', 'Google');
const google2 = createLog('g-log-2', 'Google');
const cloudflare = createLog('cf-log', 'Cloudflare');
const list = parseLogList(
  logListJson([
    { log: google, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: google2, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: cloudflare, state: 'usable', since: Date.UTC(2025, 0, 1) },
  ]),
  'chrome',
);
const lists = () => ({ chrome: list });

// Issued the way Let's Encrypt does: notBefore backdated, SCTs stamped seconds after issuance.
const T = Date.UTC(2026, 2, 1, 12, 0, 0);
const leaf = issueLeaf({
  ca,
  notBefore: T - 3_600_000,
  notAfter: T - 3_600_000 + 90 * 86_400_000 - 1000,
  scts: [
    { log: google, timestamp: T + 1_234 },
    { log: cloudflare, timestamp: T + 2_500 },
  ],
});

test('not ready one second before the last SCT, ready exactly at readyAt = last SCT + margin', () => {
  const judge = (at: number) => checkCertificate(leaf.der, [ca.der], { logLists: lists(), at, marginMs: 5_000, applicability: 'public' });
  const readyAt = T + 2_500 + 5_000;
  assert.equal(judge(T).readyAt, readyAt);
  assert.equal(judge(T + 2_500 - 1_000).ready, false);
  assert.equal(judge(readyAt - 1).ready, false);
  const v = judge(readyAt);
  assert.equal(v.ready, true);
  assert.equal(v.compliantFrom, T + 2_500);
  assert.match(v.reason, /last SCT needed is stamped 2026-03-01T12:00:02.500Z \(cf-log\), plus a 5 s margin/);
});

test('an SCT that is not needed does not delay readiness', () => {
  const extra = issueLeaf({
    ca,
    notBefore: T - 3_600_000,
    notAfter: T + 80 * 86_400_000,
    scts: [
      { log: google, timestamp: T + 1_000 },
      { log: cloudflare, timestamp: T + 2_000 },
      { log: google2, timestamp: T + 60_000 },
    ],
  });
  const v = checkCertificate(extra.der, [ca.der], { logLists: lists(), at: T, marginMs: 2_000, applicability: 'public' });
  assert.equal(v.compliantFrom, T + 2_000);
  assert.equal(v.readyAt, T + 4_000);
});

test('notBefore in the future dominates the SCT timestamps', () => {
  const late = issueLeaf({
    ca,
    notBefore: T + 600_000,
    notAfter: T + 90 * 86_400_000,
    scts: [
      { log: google, timestamp: T },
      { log: cloudflare, timestamp: T + 1 },
    ],
  });
  const v = checkCertificate(late.der, [ca.der], { logLists: lists(), at: T, marginMs: 2_000, applicability: 'public' });
  assert.equal(v.readyAt, T + 600_000 + 2_000);
  assert.equal(v.ready, false);
  assert.match(v.reason, /^Not valid yet: its validity starts .* Every browser accepts it from .*: notBefore is/);
});

test('the gate with a ManualClock: margin by first issuance or renewal, CT readiness from the SCTs', async () => {
  const clock = new ManualClock(T - 1_000);
  const gate = ctReadinessGate({ clock, logLists: lists, applicability: 'public' });
  const first = await gate({ certPem: leaf.pem, chainPem: ca.pem, firstIssuance: true });
  assert.equal(first.readyAt, T + 2_500 + DEFAULT_MARGINS.firstIssuanceMs);
  const renewal = await gate({ certPem: leaf.pem, chainPem: ca.pem, firstIssuance: false });
  assert.equal(renewal.readyAt, T + 2_500 + DEFAULT_MARGINS.renewalMs);
});

test('the gate without an override: our test CA is private, so notBefore + margin', async () => {
  const gate = ctReadinessGate({ clock: new ManualClock(T), logLists: lists, margins: { firstIssuanceMs: 3_000 } });
  const r = await gate({ certPem: leaf.pem, chainPem: ca.pem, firstIssuance: true });
  assert.equal(r.readyAt, T - 3_600_000 + 3_000);
  assert.match(r.reason, /CT not required: private CA/);
});

test('the gate never throws on a broken certificate: readyAt null with the reason', async () => {
  const gate = ctReadinessGate({ clock: new ManualClock(T), logLists: lists });
  const r = await gate({ certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', chainPem: '', firstIssuance: true });
  assert.equal(r.readyAt, null);
  assert.match(r.reason, /not a well-formed certificate/);
});

test('margins under 2 s are refused with the reason', () => {
  assert.throws(() => readinessMargins({ firstIssuanceMs: 1_999 }), /at least 2 seconds/);
  assert.equal(readinessMargins({ renewalMs: 2_000 }).renewalMs, 2_000);
});

test('serving policies as data', () => {
  const readyAt = T + 10_000;
  assert.equal(servingDecision({ mode: 'hold' }, readyAt, T, true).action, 'keep-previous');
  assert.deepEqual(servingDecision({ mode: 'hold' }, readyAt, T, false), { action: 'wait', until: readyAt, reason: 'Held until 2026-03-01T12:00:10.000Z as chosen.' });
  const now = servingDecision({ mode: 'serve-now' }, readyAt, T, false);
  assert.equal(now.action, 'serve');
  assert.equal(now.action === 'serve' && now.notifyAt, readyAt);
  const shortWait = servingDecision({ mode: 'hold-handshake', maxWaitSeconds: 30 }, readyAt, T, false);
  assert.equal(shortWait.action === 'delay-handshake' && shortWait.until, readyAt);
  const capped = servingDecision({ mode: 'hold-handshake', maxWaitSeconds: 3 }, readyAt, T, false);
  assert.equal(capped.action === 'delay-handshake' && capped.until, T + 3_000);
  assert.equal(servingDecision({ mode: 'hold' }, readyAt, readyAt, true).action, 'serve');
  assert.equal(servingDecision({ mode: 'hold' }, null, T, true).action, 'keep-previous');
  // Never ready: only serve-now serves it; held handshakes would never be released.
  assert.equal(servingDecision({ mode: 'serve-now' }, null, T, false).action, 'serve');
  assert.deepEqual(servingDecision({ mode: 'hold-handshake', maxWaitSeconds: 30 }, null, T, false), {
    action: 'wait',
    until: null,
    reason: 'Browsers will never accept the new certificate; handshakes cannot wait for it, so it is not served.',
  });
});

test('expired: the gate never activates it and the engine status says not ready, in words', async () => {
  const after = T + 91 * 86_400_000;
  const gate = ctReadinessGate({ clock: new ManualClock(after), logLists: lists, applicability: 'public' });
  const r = await gate({ certPem: leaf.pem, chainPem: ca.pem, firstIssuance: false });
  assert.equal(r.readyAt, null);
  const s = ctStatus({ certPem: leaf.pem, chainPem: ca.pem }, { logLists: lists(), at: after, marginMs: 5_000, applicability: 'public' });
  assert.ok(!('error' in s));
  assert.equal(s.ready, false);
  assert.match(s.reason, /^Expired on 2026-05-30T\d\d:\d\d:\d\d\.000Z: no browser accepts it any more/);
});
