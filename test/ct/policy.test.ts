import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkCertificate } from '../../main/engine/ct/check';
import { parseLogList } from '../../main/engine/ct/log-list';
import { appleLifetimeDays } from '../../main/engine/ct/policy-apple';
import { SctSpec, createCa, createLog, issueLeaf, logListJson } from './helpers/test-pki';

// Two operators with two RFC 6962 logs each, a static-ct log, a retired, a pending and a
// read-only log, and a log that changed hands; every SCT is really signed by its log's key.
const DAY = 86_400_000;
const ca = createCa();
const a1 = createLog('alpha-1', 'Alpha');
const a2 = createLog('alpha-2', 'Alpha', 'rsa');
const b1 = createLog('beta-1', 'Beta');
const b2 = createLog('beta-2', 'Beta');
const tiledB = createLog('beta-tiled', 'Beta');
const tiledG = createLog('gamma-tiled', 'Gamma');
const retired = createLog('gamma-retired', 'Gamma');
const pending = createLog('delta-pending', 'Delta');
const readonly = createLog('gamma-readonly', 'Gamma');
const handedOver = createLog('alpha-from-epsilon', 'Alpha');
const unknown = createLog('not-listed', 'Nobody');

const RETIRED_AT = Date.UTC(2026, 0, 10);
const HANDOVER = Date.UTC(2026, 0, 20);
const list = parseLogList(
  logListJson([
    { log: a1, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: a2, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: b1, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: b2, state: 'qualified', since: Date.UTC(2025, 6, 1) },
    { log: tiledB, state: 'usable', since: Date.UTC(2025, 0, 1), tiled: true },
    { log: tiledG, state: 'usable', since: Date.UTC(2025, 0, 1), tiled: true },
    { log: retired, state: 'retired', since: RETIRED_AT },
    { log: pending, state: 'pending', since: Date.UTC(2025, 0, 1) },
    { log: readonly, state: 'readonly', since: Date.UTC(2025, 0, 1) },
    { log: handedOver, state: 'usable', since: Date.UTC(2025, 0, 1), previousOperators: [{ name: 'Epsilon', endTime: HANDOVER }] },
  ]),
  'chrome',
);

const NB = Date.UTC(2026, 1, 1);
function verdict(scts: SctSpec[], opts: { notBefore?: number; lifetimeMs?: number; at?: number } = {}) {
  const notBefore = opts.notBefore ?? NB;
  const leaf = issueLeaf({ ca, notBefore, notAfter: notBefore + (opts.lifetimeMs ?? 90 * DAY), scts });
  return checkCertificate(leaf.der, [ca.der], {
    logLists: { chrome: list },
    at: opts.at ?? notBefore + 30 * DAY,
    marginMs: 2000,
    applicability: 'public',
  });
}
const at = (log: ReturnType<typeof createLog>, dt = 60_000, notBefore = NB): SctSpec => ({ log, timestamp: notBefore + dt });

test('two logs of two operators: compliant everywhere, signatures (ECDSA and RSA) valid', () => {
  const v = verdict([at(a1), at(b1), at(a2, 70_000)]);
  assert.deepEqual(v.scts.map((s) => s.signatureValid), [true, true, true]);
  assert.equal(v.policies.chrome.compliant, true, v.policies.chrome.reason);
  assert.equal(v.policies.firefox.compliant, true);
  assert.equal(v.policies.apple.compliant, true, v.policies.apple.reason);
  assert.match(v.policies.chrome.reason, /2 operators \(Alpha, Beta\)/);
  assert.equal(v.ready, true);
});

test('lifetime of exactly 180 days: Chrome needs 2 SCTs; Apple counts it inclusive as 181 days and needs 3', () => {
  const v = verdict([at(a1), at(b1)], { lifetimeMs: 180 * DAY });
  assert.equal(v.policies.chrome.compliant, true, v.policies.chrome.reason);
  assert.equal(appleLifetimeDays(NB, NB + 180 * DAY), 181);
  assert.equal(v.policies.apple.compliant, false);
  assert.match(v.policies.apple.reason, /Only 2 of the 3 SCTs .* 181-day/);
  // One second shorter is 180 days for Apple too.
  const w = verdict([at(a1), at(b1)], { lifetimeMs: 180 * DAY - 1000 });
  assert.equal(w.policies.apple.compliant, true, w.policies.apple.reason);
});

test('lifetime just above 180 days: Chrome and Firefox need 3 distinct logs', () => {
  const two = verdict([at(a1), at(b1)], { lifetimeMs: 180 * DAY + 1000 });
  assert.equal(two.policies.chrome.compliant, false);
  assert.equal(two.policies.firefox.compliant, false);
  assert.match(two.policies.chrome.reason, /Only 2 of the 3 SCTs from distinct logs/);
  assert.equal(two.readyAt, null);
  const three = verdict([at(a1), at(b1), at(a2)], { lifetimeMs: 180 * DAY + 1000 });
  assert.equal(three.policies.chrome.compliant, true, three.policies.chrome.reason);
  // Apple: at most 2 per operator count for 181-398 days, and 3 logs are there.
  assert.equal(three.policies.apple.compliant, true, three.policies.apple.reason);
});

test('one operator only: not diverse for Chrome; Apple counts one SCT per operator', () => {
  const v = verdict([at(a1), at(a2)]);
  assert.equal(v.policies.chrome.compliant, false);
  assert.match(v.policies.chrome.reason, /All counted SCTs come from logs run by Alpha/);
  assert.equal(v.policies.apple.compliant, false);
  assert.match(v.policies.apple.reason, /one more from Alpha than Apple counts/);
  assert.equal(v.ready, false);
  assert.equal(v.readyAt, null);
  assert.match(v.reason, /Never acceptable/);
});

test('retired log: an SCT from before its retirement counts, one from after does not', () => {
  const early = Date.UTC(2026, 0, 5);
  const before = verdict([at(retired, 60_000, early), at(a1, 60_000, early)], { notBefore: early, at: Date.UTC(2026, 2, 1) });
  assert.equal(before.scts[0].log?.state, 'retired');
  assert.equal(before.policies.chrome.compliant, true, before.policies.chrome.reason);
  // Judged before the retirement the log was still usable.
  const judgedEarlier = verdict([at(retired, 60_000, early), at(a1, 60_000, early)], { notBefore: early, at: Date.UTC(2026, 0, 8) });
  assert.equal(judgedEarlier.scts[0].log?.state, 'usable');
  assert.equal(judgedEarlier.policies.chrome.compliant, true);
  const after = verdict([at(retired), at(a1)]);
  assert.equal(after.policies.chrome.compliant, false);
  assert.match(after.policies.chrome.reason, /gamma-retired was retired on 2026-01-10, before this SCT/);
});

test('unknown log: the SCT is reported with no log and does not count', () => {
  const v = verdict([at(a1), at(unknown)]);
  assert.equal(v.scts[1].log, null);
  assert.equal(v.scts[1].signatureValid, false);
  assert.match(v.scts[1].signatureProblem ?? '', /in no log list/);
  assert.equal(v.policies.chrome.compliant, false);
  assert.match(v.policies.chrome.reason, /not in the Chrome log list/);
});

test('bad signature: reported invalid and not counted', () => {
  const v = verdict([at(a1), { ...at(b1), corrupt: true }]);
  assert.equal(v.scts[0].signatureValid, true);
  assert.equal(v.scts[1].signatureValid, false);
  assert.equal(v.policies.chrome.compliant, false);
  assert.match(v.policies.chrome.reason, /beta-1 has an invalid signature/);
});

test('duplicate SCTs from one log count once', () => {
  const v = verdict([at(a1), at(a1, 61_000)]);
  assert.equal(v.scts.length, 2);
  assert.ok(v.scts.every((s) => s.signatureValid));
  assert.equal(v.policies.chrome.compliant, false);
  assert.match(v.policies.chrome.reason, /Only 1 of the 2 SCTs.*second SCT from alpha-1 counts once/);
  assert.deepEqual(v.policies.chrome.countedLogs, [a1.logId.toString('base64')]);
});

test('pending log: not trusted by browsers', () => {
  const v = verdict([at(a1), at(pending)]);
  assert.equal(v.policies.chrome.compliant, false);
  assert.match(v.policies.chrome.reason, /delta-pending is pending/);
});

test('read-only log counts like a usable one', () => {
  const v = verdict([at(readonly), at(a1)]);
  assert.equal(v.policies.chrome.compliant, true, v.policies.chrome.reason);
});

test('Apple needs one SCT from an RFC 6962 log; static-ct logs alone satisfy Chrome only', () => {
  const v = verdict([at(tiledB), at(tiledG)]);
  assert.equal(v.scts[0].log?.kind, 'static-ct');
  assert.equal(v.policies.chrome.compliant, true, v.policies.chrome.reason);
  assert.equal(v.policies.apple.compliant, false);
  assert.match(v.policies.apple.reason, /RFC 6962/);
  assert.equal(verdict([at(tiledB), at(a1)]).policies.apple.compliant, true);
});

test('operator is the one that ran the log when the SCT was stamped (previous_operators)', () => {
  const early = Date.UTC(2026, 0, 15);
  const underEpsilon = verdict([at(handedOver, 60_000, early), at(a1, 60_000, early)], { notBefore: early });
  assert.equal(underEpsilon.policies.chrome.compliant, true, underEpsilon.policies.chrome.reason);
  assert.match(underEpsilon.policies.chrome.reason, /Epsilon/);
  const underAlpha = verdict([at(handedOver), at(a1)]);
  assert.equal(underAlpha.policies.chrome.compliant, false);
});

test('Apple refuses lifetimes over 398 days', () => {
  const v = verdict([at(a1), at(b1), at(a2)], { lifetimeMs: 399 * DAY });
  assert.equal(v.policies.apple.compliant, false);
  assert.match(v.policies.apple.reason, /at most 398/);
});

test('a publicly trusted certificate without SCTs is never acceptable, and says why', () => {
  const v = verdict([]);
  assert.equal(v.applicable, true);
  assert.equal(v.readyAt, null);
  assert.equal(v.ready, false);
  assert.match(v.reason, /without embedded SCTs/);
  assert.match(v.policies.chrome.reason, /no embedded SCTs/);
});
