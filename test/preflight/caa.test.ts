import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { evaluateCaa, parseIssueValue } from '../../main/engine/preflight/caa';

// RFC 8659 / RFC 8657 rules on record sets, without DNS (the DNS side is in checks.test.ts).
const LE = { displayName: "Let's Encrypt", identities: ['letsencrypt.org'] };
const rec = (tag: string, value: string, flags = 0) => ({ flags, tag, value });

test('issue values: issuer, parameters, and the empty issuer', () => {
  assert.deepEqual(parseIssueValue(' LetsEncrypt.org ; accounturi=https://a/1 ;validationmethods=dns-01,http-01'), {
    issuer: 'letsencrypt.org',
    params: { accounturi: 'https://a/1', validationmethods: 'dns-01,http-01' },
  });
  assert.deepEqual(parseIssueValue(';'), { issuer: '', params: {} });
});

test('issuewild wins for wildcards, issue applies when there is no issuewild', () => {
  const set = [rec('issue', 'letsencrypt.org'), rec('issuewild', 'pki.goog')];
  assert.equal(evaluateCaa(set, LE, false).allowed, true);
  assert.equal(evaluateCaa(set, LE, true).allowed, false);
  assert.equal(evaluateCaa([rec('issue', 'letsencrypt.org')], LE, true).allowed, true);
  // issuewild ";" forbids wildcards while names stay allowed.
  const noWild = [rec('issue', 'letsencrypt.org'), rec('issuewild', ';')];
  assert.equal(evaluateCaa(noWild, LE, true).allowed, false);
  assert.equal(evaluateCaa(noWild, LE, false).allowed, true);
});

test('only iodef, or an empty issuer, or an unknown critical property', () => {
  assert.equal(evaluateCaa([rec('iodef', 'mailto:a@example.com')], LE, false).allowed, true);
  assert.equal(evaluateCaa([rec('issue', ';')], LE, false).allowed, false);
  const critical = evaluateCaa([rec('issue', 'letsencrypt.org'), rec('tbs', 'x', 128)], LE, false);
  assert.equal(critical.allowed, false);
  assert.match(critical.reason, /critical, unknown property "tbs"/);
  // An unknown property without the critical flag is ignored.
  assert.equal(evaluateCaa([rec('issue', 'letsencrypt.org'), rec('tbs', 'x')], LE, false).allowed, true);
});

test('several records for the CA: the permissions add up', () => {
  const set = [
    rec('issue', 'letsencrypt.org; accounturi=https://a/1; validationmethods=dns-01'),
    rec('issue', 'letsencrypt.org; accounturi=https://a/2; validationmethods=http-01'),
  ];
  assert.deepEqual(evaluateCaa(set, { ...LE, accountUrl: 'https://a/2' }, false).allowedChallenges, ['http-01']);
  assert.deepEqual(evaluateCaa(set, LE, false).allowedChallenges, ['http-01', 'dns-01']);
  assert.equal(evaluateCaa(set, { ...LE, accountUrl: 'https://a/3' }, false).allowed, false);
  assert.equal(evaluateCaa([rec('issue', 'letsencrypt.org; validationmethods=ca-specific-method')], LE, false).allowed, false);
});
