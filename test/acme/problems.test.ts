import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { AcmeProblemError, addressFromDetail, isCaSpecificFailure, parseRetryAfter, RateLimitReachedError } from '../../main/engine/acme/problems';
import { HomeportError } from '../../main/engine/errors';
import { aaaaNotThisHost, caaForbids, dnsServfail, nameDoesNotExist } from '../../main/engine/preflight/wording';

const E = 'urn:ietf:params:acme:error:';

test('an IPv6 address (not this host) that did not answer: the AAAA record, in the words pre-flight uses', () => {
  const e = new AcmeProblemError(
    { type: `${E}connection`, detail: '2001:db8::1: Fetching http://home.example.com/.well-known/acme-challenge/x: Timeout during connect' },
    { ca: "Let's Encrypt", identifier: 'home.example.com', challenge: 'http-01', addressUsed: '2001:db8::1' },
  );
  assert.equal(e.code, 'acme.connection');
  assert.equal(e.problemType, `${E}connection`);
  assert.equal(e.addressUsed, '2001:db8::1');
  assert.match(e.message, /reached 2001:db8::1 over IPv6 for "home\.example\.com", which did not answer in time on port 80/);
  const preflight = aaaaNotThisHost('home.example.com', '2001:db8::1', "Let's Encrypt", []);
  assert.ok(e.message.endsWith(preflight.summary), e.message);
  assert.match(e.fix!, /^Remove the AAAA record/);
  assert.equal(e.details?.addressUsed, '2001:db8::1');
  assert.ok(e instanceof HomeportError);
});

test('connection refused on port 80 over IPv4 names the port and the forwarding fix', () => {
  const e = new AcmeProblemError({ type: `${E}connection`, detail: 'dial tcp 203.0.113.5:80: connect: connection refused' }, { ca: 'CA', identifier: 'a.example.com', challenge: 'http-01', addressUsed: '203.0.113.5' });
  assert.match(e.message, /203\.0\.113\.5 on port 80 .*refused the connection/);
  assert.match(e.fix!, /port 80 is open and forwarded/);
});

test('other problems get their own diagnosis', () => {
  const cases: [Record<string, unknown>, Record<string, unknown>, RegExp, RegExp][] = [
    [{ type: `${E}unauthorized`, detail: 'Invalid response from http://a.example.com/: 404' }, { challenge: 'http-01', addressUsed: '198.51.100.4' }, /wrong answer .* from 198\.51\.100\.4 on port 80/, /A\/AAAA records/],
    [{ type: `${E}unauthorized`, detail: 'No TXT record found' }, { challenge: 'dns-01' }, /TXT record at _acme-challenge\.a\.example\.com/, /DNS provider/],
    [{ type: `${E}dns`, detail: 'DNS problem: NXDOMAIN looking up A for a.example.com' }, {}, /does not exist in DNS/, /Create an A/],
    [{ type: `${E}dns`, detail: 'DNS problem: query timed out' }, {}, /could not look up "a\.example\.com"/, /name servers answer/],
    [{ type: `${E}caa`, detail: 'CAA record for a.example.com prevents issuance' }, { caaIdentities: ['letsencrypt.org'] }, /CAA record .* does not allow CA/, /0 issue "letsencrypt\.org"/],
    [{ type: `${E}caa`, detail: 'CAA record for a.example.com prevents issuance' }, {}, /CAA record .* does not allow CA/, /Add a CAA record that allows this CA/],
    [{ type: `${E}rateLimited`, detail: 'too many certificates' }, { retryAfter: Date.UTC(2026, 5, 1) }, /rate limit/, /after 2026-06-01T00:00:00\.000Z/],
    [{ type: `${E}rejectedIdentifier` }, {}, /will not issue for "a\.example\.com"/, /another CA/],
    [{ type: `${E}externalAccountRequired` }, {}, /External Account Binding/, /--eab-kid/],
    [{ type: `${E}serverInternal` }, {}, /internal error/, /fallback CA/],
    [{ type: `${E}compound`, subproblems: [{ identifier: { type: 'dns', value: 'x.example.com' }, detail: 'nope' }] }, {}, /x\.example\.com: nope/, /each name/],
    [{ type: 'about:blank', detail: 'odd' }, {}, /reported a problem \(problem\)/, /Try again/],
  ];
  for (const [problem, ctx, message, fix] of cases) {
    const e = new AcmeProblemError(problem, { ca: 'CA', identifier: 'a.example.com', ...ctx });
    assert.match(e.message, message, e.message);
    assert.match(e.fix ?? '', fix, e.fix);
  }
});

test('DNS and CAA failures read the same as the pre-flight findings', () => {
  const nx = new AcmeProblemError({ type: `${E}dns`, detail: 'DNS problem: NXDOMAIN looking up A for a.example.com' }, { ca: 'CA', identifier: 'a.example.com' });
  assert.ok(nx.message.startsWith(nameDoesNotExist('a.example.com').summary.replace(/\.$/, '')), nx.message);
  assert.equal(nx.fix, nameDoesNotExist('a.example.com').fix);
  const sf = new AcmeProblemError({ type: `${E}dns`, detail: 'DNS problem: SERVFAIL looking up CAA for a.example.com' }, { ca: 'CA', identifier: '*.a.example.com' });
  assert.ok(sf.message.startsWith(dnsServfail('a.example.com', "the CA's resolver").summary), sf.message);
  assert.equal(sf.fix, dnsServfail('a.example.com', "the CA's resolver").fix);
  const caa = new AcmeProblemError({ type: `${E}caa`, detail: 'CAA record for example.com prevents issuance' }, { ca: "Let's Encrypt", identifier: '*.a.example.com', caaIdentities: ['letsencrypt.org'] });
  assert.equal(caa.fix, caaForbids('*.a.example.com', "Let's Encrypt", 'example.com', [], 'letsencrypt.org', true).fix);
  assert.match(caa.fix!, /at example\.com: 0 issuewild "letsencrypt\.org"/);
});

test('the ledger\'s refusal is CA-specific and carries when the order may go out', () => {
  const e = new RateLimitReachedError("Let's Encrypt", ['The limit of 5 certificates for exactly the same names per 7 d is reached for a.example.com.'], Date.UTC(2026, 5, 1));
  assert.equal(e.code, 'acme.rate-limit-reached');
  assert.match(e.message, /did not ask Let's Encrypt.*5 certificates for exactly the same names/);
  assert.match(e.fix!, /until 2026-06-01T00:00:00\.000Z/);
  assert.ok(isCaSpecificFailure(e), 'the next CA is asked instead');
});

test('addresses are read from problem details when the CA sends no validationRecord', () => {
  assert.deepEqual(addressFromDetail('Get "http://x:5002/": dial tcp 127.0.0.1:5002: connect: connection refused'), { address: '127.0.0.1', port: 5002 });
  assert.deepEqual(addressFromDetail('dial tcp [2001:db8::1]:443: i/o timeout'), { address: '2001:db8::1', port: 443 });
  assert.deepEqual(addressFromDetail('2001:db8::1: Fetching http://x/: Connection refused'), { address: '2001:db8::1' });
  assert.deepEqual(addressFromDetail('something else'), {});
});

test('Retry-After in seconds or as a date', () => {
  assert.equal(parseRetryAfter('120', 1_000), 121_000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', 0), Date.UTC(2026, 9, 21, 7, 28));
  assert.equal(parseRetryAfter('soon', 0), undefined);
  assert.equal(parseRetryAfter(undefined, 0), undefined);
});

test('only CA-side failures move on to the next CA', () => {
  const p = (type: string, status?: number) => new AcmeProblemError({ type: `${E}${type}`, status }, { ca: 'CA' });
  assert.ok(isCaSpecificFailure(p('rateLimited', 429)));
  assert.ok(isCaSpecificFailure(p('caa', 403)));
  assert.ok(isCaSpecificFailure(p('malformed', 503)));
  assert.ok(isCaSpecificFailure(new HomeportError('acme.unreachable', 'x')));
  assert.ok(!isCaSpecificFailure(p('connection', 400)), 'a closed port fails with every CA');
  assert.ok(!isCaSpecificFailure(p('unauthorized', 403)));
  assert.ok(!isCaSpecificFailure(new HomeportError('acme.tos-not-accepted', 'x')));
  assert.ok(!isCaSpecificFailure(new Error('bug')));
});
