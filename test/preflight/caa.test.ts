import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkCaa, evaluateCaa, parseIssueValue } from '../../main/engine/preflight/caa';
import { DnsLookup } from '../../main/engine/preflight/lookup';
import type { CaaValue, DnsResponse, Resolver } from '../../main/engine/preflight/resolver';

// RFC 8659 / RFC 8657 rules on record sets, and the check on a scripted resolver (real DNS
// servers are in checks.test.ts).
const LE = { displayName: "Let's Encrypt", identities: ['letsencrypt.org'] };
const URL_CA = { displayName: 'the CA at ca.example.net', identities: [] };
const rec = (tag: string, value: string, flags = 0) => ({ flags, tag, value });

/** A resolver answering CAA questions from a table: records, or an rcode; NOERROR and nothing for the rest. */
function scripted(table: Record<string, CaaValue[] | string>): { lookup: DnsLookup; asked: string[] } {
  const asked: string[] = [];
  const server = { host: '192.0.2.53', port: 53 };
  const resolver: Resolver = {
    query: async (name): Promise<DnsResponse> => {
      asked.push(name);
      const entry = table[name] ?? [];
      const answers = typeof entry === 'string' ? [] : entry.map((caa) => ({ name, type: 'CAA', ttl: 60, data: `${caa.flags} ${caa.tag} "${caa.value}"`, caa }));
      return { server, rcode: typeof entry === 'string' ? entry : 'NOERROR', aa: false, answers, authorities: [], additionals: [] };
    },
  };
  return { lookup: new DnsLookup({ resolver, roots: [server] }), asked };
}

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

test('the climb includes the TLD: a CAA set or a failed lookup there applies', async () => {
  const atTld = scripted({ com: [rec('issue', 'pki.goog')] });
  const r = await checkCaa(atTld.lookup, 'www.example.com', LE);
  assert.deepEqual(atTld.asked, ['www.example.com', 'example.com', 'com']);
  assert.equal(r.result.status, 'fail');
  assert.equal(r.result.summary, "The CAA records at com allow only pki.goog to issue for www.example.com, not Let's Encrypt (letsencrypt.org).");
  assert.equal(r.facts.forbidden, true);

  const servfail = await checkCaa(scripted({ com: 'SERVFAIL' }).lookup, 'example.com', LE);
  assert.equal(servfail.result.status, 'fail');
  assert.match(servfail.result.summary, /the CAA lookup of com answered SERVFAIL\. CAs refuse to issue/);

  // A resolver that refuses a question (one serving only some zones) says nothing about what the CA reads.
  const refused = await checkCaa(scripted({ com: 'REFUSED' }).lookup, 'example.com', LE);
  assert.equal(refused.result.status, 'warn');
  assert.equal(refused.result.summary, "The resolver refused to answer the CAA question for com, so Homeport could not check whether a CAA record there restricts CAs for example.com; the CA's own resolver will read it.");
  assert.deepEqual(refused.facts.allowedChallenges, ['http-01', 'tls-alpn-01', 'dns-01']);
});

test('a CA without a published CAA identity: records that forbid every CA warn instead of passing', async () => {
  const noCa = await checkCaa(scripted({ 'example.com': [rec('issue', ';')] }).lookup, 'example.com', URL_CA);
  assert.equal(noCa.result.status, 'warn');
  assert.equal(noCa.result.summary, 'The CAA records at example.com forbid every CA to issue for example.com (issue ";"): the CA at ca.example.net can issue only if it does not check CAA, as some private CAs do.');
  assert.match(noCa.result.fix ?? '', /add a CAA record at example\.com: 0 issue "<its CAA domain>"/);

  const wild = await checkCaa(scripted({ 'example.com': [rec('issue', 'ca.example.net'), rec('issuewild', ';')] }).lookup, '*.example.com', URL_CA);
  assert.match(wild.result.summary, /forbid every CA to issue for \*\.example\.com \(issuewild ";"\)/);

  for (const flags of [128, 1]) {
    const critical = await checkCaa(scripted({ 'example.com': [rec('issue', 'ca.example.net'), rec('tbs', 'x', flags)] }).lookup, 'example.com', URL_CA);
    assert.equal(critical.result.status, 'warn');
    assert.match(critical.result.summary, /^The CAA record \d+ tbs "x" at example\.com marks the unknown property "tbs" critical.*, which forbids every CA to issue for example\.com: the CA at ca\.example\.net can issue only if it does not check CAA/);
    assert.equal(critical.result.fix, 'Remove that record, or set its flags to 0 so that CAs may ignore it.');
  }

  const open = await checkCaa(scripted({ 'example.com': [rec('iodef', 'mailto:a@example.com')] }).lookup, 'example.com', URL_CA);
  assert.equal(open.result.status, 'pass');
});

test('flag 1 counts as critical, as at Let\'s Encrypt', async () => {
  assert.equal(evaluateCaa([rec('issue', 'letsencrypt.org'), rec('tbs', 'x', 1)], LE, false).allowed, false);
  const r = await checkCaa(scripted({ 'example.com': [rec('issue', 'letsencrypt.org'), rec('tbs', 'x', 1)] }).lookup, 'example.com', LE);
  assert.equal(r.result.status, 'fail');
  assert.equal(
    r.result.summary,
    'The CAA record 1 tbs "x" at example.com marks the unknown property "tbs" critical (1 is not the critical flag, but Let\'s Encrypt counts it as one), which forbids every CA to issue for example.com, Let\'s Encrypt included.',
  );
});

test('parameters that break the grammar make the record allow nothing, and the fix shows how to write it', async () => {
  const malformed = [
    'letsencrypt.org; validationmethods=dns-01 http-01',
    'letsencrypt.org; accounturi',
    'letsencrypt.org; accounturi=',
    'letsencrypt.org; validationmethods=dns-01;',
    'letsencrypt.org;; validationmethods=dns-01',
    'letsencrypt.org; validation_methods=dns-01',
  ];
  for (const value of malformed) {
    assert.ok(parseIssueValue(value).malformed, value);
    assert.equal(evaluateCaa([rec('issue', value)], LE, false).allowed, false, value);
  }
  // Spaces and tabs around the parts, a ";" with no parameters, "=" inside a value: all fine.
  for (const value of ['letsencrypt.org;', ' letsencrypt.org ;\taccounturi = https://a/1?x=y ']) {
    assert.equal(parseIssueValue(value).malformed, undefined, value);
  }

  const spaced = await checkCaa(scripted({ 'example.com': [rec('issue', 'letsencrypt.org; validationmethods=dns-01 http-01')] }).lookup, 'example.com', LE);
  assert.equal(spaced.result.status, 'fail');
  assert.equal(
    spaced.result.summary,
    'The CAA record issue "letsencrypt.org; validationmethods=dns-01 http-01" at example.com names Let\'s Encrypt but is malformed: the value of validationmethods contains a space or a character a value may not hold ("dns-01 http-01"). A CA reads a malformed record as allowing nothing, so Let\'s Encrypt will refuse to issue for example.com.',
  );
  assert.equal(
    spaced.result.fix,
    'Write it as 0 issue "letsencrypt.org; validationmethods=dns-01,http-01": each parameter is name=value, parameters are separated by ";", and a value holds no spaces (list several challenges with commas).',
  );

  const account = 'https://acme-v02.api.letsencrypt.org/acme/acct/999';
  const bare = await checkCaa(scripted({ 'example.com': [rec('issue', 'letsencrypt.org; accounturi')] }).lookup, 'example.com', { ...LE, accountUrl: account });
  assert.equal(bare.result.status, 'fail');
  assert.match(bare.result.summary, /is malformed: the parameter "accounturi" has no "=" and value\./);
  assert.ok(bare.result.fix?.startsWith(`Write it as 0 issue "letsencrypt.org; accounturi=${account}":`), bare.result.fix ?? '');
  const underscore = await checkCaa(scripted({ 'example.com': [rec('issue', 'letsencrypt.org; validation_methods=dns-01')] }).lookup, 'example.com', LE);
  assert.match(underscore.result.fix ?? '', /^Write it as 0 issue "letsencrypt\.org; validationmethods=dns-01":/);

  // Another record still allows the CA: the malformed one is pointed out, issuance is not blocked.
  const mixed = await checkCaa(
    scripted({ 'example.com': [rec('issue', 'letsencrypt.org; validationmethods=dns-01'), rec('issue', 'letsencrypt.org; validationmethods=http-01 tls-alpn-01')] }).lookup,
    'example.com',
    LE,
  );
  assert.equal(mixed.result.status, 'warn');
  assert.deepEqual(mixed.facts.allowedChallenges, ['dns-01']);
  assert.match(mixed.result.summary, /only with dns-01 \(validationmethods\)\. The record issue "letsencrypt\.org; validationmethods=http-01 tls-alpn-01" is malformed \(.*\), so it allows nothing\.$/);
  assert.equal(mixed.result.fix, 'Write the malformed record as 0 issue "letsencrypt.org; validationmethods=http-01,tls-alpn-01".');
});
