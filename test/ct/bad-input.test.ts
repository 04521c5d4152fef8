import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { HomeportError } from '../../main/engine/errors';
import { checkCertificate } from '../../main/engine/ct/check';
import { parseLogList, parseSignedLogList } from '../../main/engine/ct/log-list';
import { extractEmbeddedScts, parseSctList } from '../../main/engine/ct/sct';
import { certificatesFromFile, parseCertificate } from '../../main/engine/ct/x509';
import { fixtures } from '../helpers/paths';
import { createCa, createLog, issueLeaf, logListJson } from './helpers/test-pki';

const ca = createCa();
const log = createLog('l', 'Op');
const T = Date.UTC(2026, 4, 1);
const good = issueLeaf({ ca, notBefore: T, notAfter: T + 90 * 86_400_000, scts: [{ log, timestamp: T + 1 }] });
const list = parseLogList(logListJson([{ log, state: 'usable', since: 0 }]), 'chrome');
const opts = { logLists: { chrome: list }, at: T + 86_400_000, marginMs: 2_000 } as const;

function homeportError(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof HomeportError, `expected a HomeportError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.ok(e.fix, 'tells the user what to do');
    return true;
  });
}

test('not a certificate: text, a private key PEM, an empty file', () => {
  homeportError(() => certificatesFromFile('hello world'), 'ct.malformed-certificate', /neither PEM nor DER/);
  homeportError(
    () => certificatesFromFile('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n'),
    'ct.malformed-certificate',
    /no CERTIFICATE block/,
  );
  homeportError(() => parseCertificate(new Uint8Array(0)), 'ct.malformed-certificate', /empty/);
  homeportError(() => parseCertificate(Buffer.from('30030201', 'hex')), 'ct.malformed-certificate', /truncated|ends/);
});

test('truncated DER at every length: a clear error, never a crash', () => {
  for (let n = 1; n < good.der.length; n += 7) {
    assert.throws(() => checkCertificate(good.der.subarray(0, n), [ca.der], opts), HomeportError, `cut at ${n}`);
  }
});

test('every single-byte corruption of the SCT list: an error or an explained verdict', () => {
  const list = Buffer.from('0000', 'hex');
  homeportError(() => parseSctList(list), 'ct.malformed-sct-list', /empty/);
  homeportError(() => parseSctList(Buffer.from('0005000300', 'hex')), 'ct.malformed-sct-list', /says 5 bytes/);
  homeportError(() => parseSctList(Buffer.from('000300010a', 'hex')), 'ct.malformed-sct-list', /version 11|runs past/);
  const [sct] = extractEmbeddedScts(good.der);
  const raw = Buffer.concat([Buffer.of(0, sct.raw.length + 2, 0, sct.raw.length), sct.raw]);
  for (let i = 0; i < raw.length; i++) {
    const bad = Buffer.from(raw);
    bad[i] ^= 0xff;
    const leaf = issueLeaf({ ca, notBefore: T, notAfter: T + 90 * 86_400_000, scts: [], rawSctList: bad });
    try {
      const v = checkCertificate(leaf.der, [ca.der], { ...opts, applicability: 'public' });
      // Parsed after all: the flipped byte must then show up as an invalid or unknown SCT.
      assert.ok(v.scts.every((s) => !s.signatureValid), `byte ${i}`);
      assert.equal(v.ready, false);
    } catch (e) {
      assert.ok(e instanceof HomeportError && e.code === 'ct.malformed-sct-list', `byte ${i}: ${String(e)}`);
    }
  }
});

test('an SCT extension that is not an OCTET STRING is a malformed list', () => {
  const leaf = issueLeaf({ ca, notBefore: T, notAfter: T + 1, scts: [], rawSctList: Buffer.from('0c0141', 'hex') });
  // The helper wraps the list in an OCTET STRING; turn that into a UTF8String (the CA signature does not matter here).
  const der = Buffer.from(leaf.der);
  const at = der.indexOf(Buffer.from('04030c0141', 'hex'));
  assert.ok(at > 0);
  der[at] = 0x0c;
  homeportError(() => extractEmbeddedScts(der), 'ct.malformed-sct-list', /OCTET STRING/);
});

test('a log list with a bad signature is refused, with the reason', () => {
  const json = readFileSync(path.join(fixtures, 'ct', 'log_list.json'));
  const sig = readFileSync(path.join(fixtures, 'ct', 'log_list.sig'));
  const key = readFileSync(path.join(fixtures, 'ct', 'log_list_pubkey.pem'), 'utf8');
  const tampered = Buffer.from(json);
  tampered[tampered.indexOf('usable')] = 'U'.charCodeAt(0);
  homeportError(() => parseSignedLogList(tampered, sig, key), 'ct.bad-log-list', /signature does not verify/);
  homeportError(() => parseSignedLogList(json, sig.subarray(1), key), 'ct.bad-log-list', /signature/);
  homeportError(() => parseLogList('{"operators": 3}', 'chrome'), 'ct.bad-log-list', /operators/);
  homeportError(() => parseLogList('not json', 'chrome'), 'ct.bad-log-list', /not JSON/);
});

test('the SCTs need the issuer: a clear error when only the leaf is given', () => {
  homeportError(() => checkCertificate(good.der, [], opts), 'ct.issuer-needed', /issuer/);
});
