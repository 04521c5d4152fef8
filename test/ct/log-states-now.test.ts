import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ManualClock } from '../../main/engine/clock';
import { checkCertificate } from '../../main/engine/ct/check';
import { ctReadinessGate } from '../../main/engine/ct/gate';
import { parseLogList } from '../../main/engine/ct/log-list';
import { servingDecision } from '../../main/engine/ct/readiness';
import { ListLog, createCa, createLog, issueLeaf, logListJson } from './helpers/test-pki';

// Browsers judge every SCT with the log states of the list they hold on the day they check,
// not with the states the logs had when the SCTs were issued.
const DAY = 86_400_000;
const ca = createCa();
const alpha = createLog('alpha', 'Alpha');
const beta = createLog('beta', 'Beta');
const NB = Date.UTC(2026, 1, 1);
const SCT_TIME = NB + 60_000;
const CHANGE = NB + 10 * DAY;
const NOW = CHANGE + DAY;
const leaf = issueLeaf({
  ca,
  notBefore: NB,
  notAfter: NB + 90 * DAY,
  scts: [
    { log: alpha, timestamp: SCT_TIME },
    { log: beta, timestamp: SCT_TIME },
  ],
});
const listOf = (logs: ListLog[]) => ({ chrome: parseLogList(logListJson(logs, NOW), 'chrome') });

test('compliant when the SCTs were issued, both logs retired since: never ready, and a renewal keeps the previous certificate', async () => {
  const lists = listOf([
    { log: alpha, state: 'retired', since: CHANGE },
    { log: beta, state: 'retired', since: CHANGE },
  ]);
  const v = checkCertificate(leaf.der, [ca.der], { logLists: lists, at: NOW, marginMs: 2_000, applicability: 'public' });
  assert.equal(v.policies.chrome.compliant, false);
  assert.equal(v.compliantFrom, null);
  assert.equal(v.readyAt, null);
  assert.equal(v.ready, false);
  assert.match(v.reason, /^Never acceptable to every browser\. Chrome: No SCT comes from a log Chrome trusts today/);

  const gate = ctReadinessGate({ clock: new ManualClock(NOW), logLists: () => lists, applicability: 'public' });
  const r = await gate({ certPem: leaf.pem, chainPem: ca.pem, firstIssuance: false });
  assert.equal(r.readyAt, null);
  assert.equal(servingDecision({ mode: 'hold' }, r.readyAt, NOW, true).action, 'keep-previous');
});

test('a log pending when it issued the SCT and qualified now counts: ready from the SCT time', () => {
  const lists = listOf([
    { log: alpha, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: beta, state: 'qualified', since: CHANGE },
  ]);
  const v = checkCertificate(leaf.der, [ca.der], { logLists: lists, at: NOW, marginMs: 2_000, applicability: 'public' });
  assert.equal(v.policies.chrome.compliant, true, v.policies.chrome.reason);
  assert.equal(v.policies.apple.compliant, true, v.policies.apple.reason);
  assert.equal(v.compliantFrom, SCT_TIME);
  assert.equal(v.readyAt, SCT_TIME + 2_000);
  assert.equal(v.ready, true);
});

test('SCT timestamps still count against the clock: not ready before the last one, with states as of now', () => {
  const lists = listOf([
    { log: alpha, state: 'usable', since: Date.UTC(2025, 0, 1) },
    { log: beta, state: 'qualified', since: CHANGE },
  ]);
  const late = issueLeaf({
    ca,
    notBefore: NOW - 3_600_000,
    notAfter: NOW + 80 * DAY,
    scts: [
      { log: alpha, timestamp: NOW + 1_000 },
      { log: beta, timestamp: NOW + 3_000 },
    ],
  });
  const v = checkCertificate(late.der, [ca.der], { logLists: lists, at: NOW, marginMs: 2_000, applicability: 'public' });
  assert.equal(v.compliantFrom, NOW + 3_000);
  assert.equal(v.readyAt, NOW + 5_000);
  assert.equal(v.ready, false);
});
