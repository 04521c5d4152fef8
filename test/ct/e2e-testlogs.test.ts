import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ManualClock } from '../../main/engine/clock';
import { checkCertificate } from '../../main/engine/ct/check';
import { ctReadinessGate } from '../../main/engine/ct/gate';
import { monitorInclusion } from '../../main/engine/ct/inclusion';
import { logKey, parseSignedLogList } from '../../main/engine/ct/log-list';
import { precertSignedEntry } from '../../main/engine/ct/precert';
import { extractEmbeddedScts, sctLeafIndex } from '../../main/engine/ct/sct';
import { verifySctSignature } from '../../main/engine/ct/verify';
import { isHomeportError } from '../../main/engine/errors';
import { CtTestbed, startCtTestbed } from '../ct-logs/testbed';
import { TestCertificate, submitChain } from '../ct-logs/test-ca';

// The whole CT path on loopback: the test CA gets SCTs from three logs of two operators (an
// RFC 6962 log, a retired RFC 6962 log, a static-ct-api log), embeds them, and Homeport's CT
// code parses, verifies, judges, schedules readiness and proves inclusion in every log.

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0) + 250;
const clock = new ManualClock(T0);
let bed: CtTestbed;
let cert: TestCertificate;
const BACKGROUND = 260;

before(async () => {
  bed = await startCtTestbed({ clock });
  // Other certificates first, so the trees are big enough for real proofs: the static-ct
  // entry lands in a partial level-0 tile above a full one, under a partial level-1 tile.
  for (let i = 0; i < BACKGROUND; i += 20) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, j) => {
        const chain = [bed.ca.precertificate({ names: [`bg${i + j}.example.test`] }).der, bed.ca.intermediateDer, bed.ca.rootDer];
        for (const log of [bed.argon, bed.sky]) await submitChain(log.url, chain);
      }),
    );
  }
  clock.advance(60_000);
  cert = await bed.ca.issue({ names: ['home.example.test', 'www.home.example.test'], logs: [bed.argon.url, bed.oldArgon.url, bed.sky.url] });
});
after(() => bed?.stop());

const leaf = () => new Uint8Array(cert.certDer);
const issuer = () => [new Uint8Array(bed.ca.intermediateDer)];
const SCT_TIME = T0 + 60_000;

test('the test CA issues a valid chain: precertificate poisoned, final certificate with the same TBS fields', () => {
  const final = new X509Certificate(cert.certDer);
  const pre = new X509Certificate(cert.precertDer);
  const inter = new X509Certificate(bed.ca.intermediateDer);
  assert.ok(final.verify(inter.publicKey) && pre.verify(inter.publicKey));
  assert.ok(inter.verify(new X509Certificate(bed.ca.rootDer).publicKey));
  assert.equal(final.serialNumber, pre.serialNumber);
  assert.equal(final.subjectAltName, 'DNS:home.example.test, DNS:www.home.example.test');
  assert.ok(pre.raw.includes(Buffer.from('06 0a 2b 06 01 04 01 d6 79 02 04 03'.replace(/ /g, ''), 'hex')), 'precertificate carries the poison OID');
  assert.ok(!final.raw.includes(Buffer.from('2b06010401d679020403', 'hex')), 'final certificate does not');
});

test('the signed test log list loads like Chrome\'s, and a tampered one is refused', () => {
  const { json, signature, publicKeyPem } = bed.signedList;
  const list = parseSignedLogList(json, signature, publicKeyPem);
  assert.equal(list.logs.size, 4);
  assert.deepEqual(
    [...list.logs.values()].map((l) => [l.name, l.operator, l.kind, l.state?.name]).sort(),
    [
      ['Homeport Test Argon (retired)', 'Test Operator A', 'rfc6962', 'retired'],
      ['Homeport Test Argon', 'Test Operator A', 'rfc6962', 'usable'],
      ['Homeport Test Lagging', 'Test Operator B', 'rfc6962', 'usable'],
      ['Homeport Test Sky', 'Test Operator B', 'static-ct', 'usable'],
    ],
  );
  const tampered = Buffer.from(json.toString('utf8').replace('"mmd": 60', '"mmd": 61'));
  assert.throws(() => parseSignedLogList(tampered, signature, publicKeyPem), (e: unknown) => isHomeportError(e) && e.code === 'ct.bad-log-list');
});

test('Homeport parses the three embedded SCTs and verifies every signature the test logs made', () => {
  const scts = extractEmbeddedScts(leaf());
  assert.equal(scts.length, 3);
  assert.deepEqual(
    scts.map((s) => s.logIdBase64),
    [bed.argon, bed.oldArgon, bed.sky].map((l) => l.logId.toString('base64')),
  );
  for (const s of scts) assert.equal(s.timestamp, SCT_TIME);
  assert.equal(sctLeafIndex(scts[2]), BACKGROUND, 'the static-ct SCT says where the entry sits');
  assert.equal(sctLeafIndex(scts[0]), undefined);
  const entry = precertSignedEntry(leaf(), issuer()[0]);
  for (const s of scts) {
    const log = bed.list.logs.get(s.logIdBase64)!;
    assert.deepEqual(verifySctSignature(s, entry, logKey(log)), { valid: true }, log.name);
  }
  // The same SCTs do not verify for another certificate (the signature covers the entry).
  const otherEntry = precertSignedEntry(leaf(), new Uint8Array(bed.ca.rootDer));
  assert.equal(verifySctSignature(scts[0], otherEntry, logKey(bed.list.logs.get(scts[0].logIdBase64)!)).valid, false);
});

test('policy verdicts: compliant for Chrome, Firefox and Apple; the retired log\'s SCT does not count', () => {
  const v = checkCertificate(leaf(), issuer(), { logLists: { chrome: bed.list }, at: SCT_TIME + 10_000, marginMs: 2_000, applicability: 'public' });
  assert.ok(v.applicable);
  for (const browser of ['chrome', 'firefox', 'apple'] as const) assert.ok(v.policies[browser].compliant, `${browser}: ${v.policies[browser].reason}`);
  const counted = v.policies.chrome.countedLogs;
  assert.ok(counted.includes(bed.argon.logId.toString('base64')) && counted.includes(bed.sky.logId.toString('base64')));
  assert.ok(!counted.includes(bed.oldArgon.logId.toString('base64')), 'a log retired before the SCT does not count');
  assert.deepEqual(v.scts.map((s) => s.signatureValid), [true, true, true]);
  assert.equal(v.compliantFrom, SCT_TIME);
  assert.equal(v.readyAt, SCT_TIME + 2_000);
});

test('readiness with a ManualClock: not ready at SCT−1 s, ready at readyAt (the engine test covers cert:ct-ready)', async () => {
  const opts = { logLists: { chrome: bed.list }, marginMs: 2_000, applicability: 'public' as const };
  const readyAt = SCT_TIME + 2_000;
  assert.equal(checkCertificate(leaf(), issuer(), { ...opts, at: SCT_TIME - 1_000 }).ready, false);
  assert.equal(checkCertificate(leaf(), issuer(), { ...opts, at: readyAt - 1 }).ready, false);
  assert.equal(checkCertificate(leaf(), issuer(), { ...opts, at: readyAt }).ready, true);

  const c = new ManualClock(SCT_TIME - 1_000);
  const gate = ctReadinessGate({ clock: c, logLists: () => ({ chrome: bed.list }), margins: { firstIssuanceMs: 2_000 }, applicability: 'public' });
  const r = await gate({ certPem: cert.certPem, chainPem: cert.chainPem, firstIssuance: true });
  assert.equal(r.readyAt, readyAt, r.reason);
});

test('inclusion: each SCT\'s entry is proven in its log (RFC 6962 by hash, static-ct from tiles at leaf_index)', async () => {
  const argonBefore = bed.argon.requests.length;
  const skyBefore = bed.sky.requests.length;
  const report = await monitorInclusion(leaf(), issuer(), bed.list, { clock });
  const byLog = Object.fromEntries(report.results.map((r) => [r.logName, r]));
  assert.ok(report.allLogged, report.summary);

  const argon = byLog['Homeport Test Argon'];
  assert.equal(argon.status, 'logged');
  assert.equal(argon.treeSize, BACKGROUND + 1);
  assert.equal(argon.leafIndex, BACKGROUND);
  assert.match(argon.message, /tree size 261 \(entry 260\)/);

  const sky = byLog['Homeport Test Sky'];
  assert.equal(sky.status, 'logged');
  assert.equal(sky.treeSize, BACKGROUND + 1);
  assert.equal(sky.leafIndex, BACKGROUND);
  assert.equal(byLog['Homeport Test Argon (retired)'].status, 'logged');
  assert.equal(byLog['Homeport Test Argon (retired)'].treeSize, 1);

  const argonAsked = bed.argon.requests.slice(argonBefore);
  assert.ok(argonAsked.some((r) => r.startsWith('GET /ct/v1/get-sth')));
  assert.ok(argonAsked.some((r) => r.startsWith('GET /ct/v1/get-proof-by-hash?') && r.includes('tree_size=261')));
  const skyAsked = bed.sky.requests.slice(skyBefore);
  assert.ok(skyAsked.includes('GET /checkpoint'));
  assert.ok(skyAsked.includes('GET /tile/0/001.p/5'), `partial level-0 tile read: ${skyAsked.join(', ')}`);
  assert.ok(skyAsked.includes('GET /tile/1/000.p/1'), 'partial level-1 tile read');
  assert.ok(!skyAsked.some((r) => r.includes('/ct/v1/')), 'a static-ct log is read through tiles only');
});
