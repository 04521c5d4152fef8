import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { precertSignedEntry, precertTbs } from '../../main/engine/ct/precert';
import { extractEmbeddedScts, sctLeafIndex } from '../../main/engine/ct/sct';
import { logKeyFromSpki, verifySctSignature } from '../../main/engine/ct/verify';
import { SCT_LIST_OID, parseCertificate } from '../../main/engine/ct/x509';
import { requireTool } from '../helpers/tools';
import { tmpDir } from '../helpers/tmp';
import { createCa, createLog, issueLeaf } from './helpers/test-pki';

const ca = createCa();
const log = createLog('tiled', 'Op');
const T = Date.UTC(2026, 4, 1);

/** static-ct-api leaf_index: extension type 0, 5-byte big-endian index. */
function leafIndexExt(index: number): Buffer {
  const data = Buffer.alloc(5);
  data.writeUIntBE(index, 0, 5);
  return Buffer.concat([Buffer.of(0, 0, 5), data]);
}

test('cutting the SCT list out of the final certificate gives the precertificate TBS minus its poison', () => {
  const leaf = issueLeaf({ ca, notBefore: T, notAfter: T + 86_400_000 * 90, scts: [{ log, timestamp: T + 5 }] });
  const fromFinal = precertTbs(parseCertificate(leaf.der));
  const fromPrecert = precertTbs(parseCertificate(leaf.precertDer));
  assert.ok(fromFinal.equals(fromPrecert));
  // What is left parses as a TBSCertificate with every other extension, in order.
  const reparsed = parseCertificate(Buffer.concat([Buffer.of(0x30, 0x82, fromFinal.length >> 8, fromFinal.length & 0xff), fromFinal]));
  assert.deepEqual(
    reparsed.extensions.map((e) => e.oid),
    ['2.5.29.15', '2.5.29.37', '2.5.29.19', '2.5.29.17'],
  );
});

test('the SCT extensions (static-ct leaf_index) are signed and parsed', () => {
  const leaf = issueLeaf({
    ca,
    notBefore: T,
    notAfter: T + 86_400_000 * 90,
    scts: [{ log, timestamp: T + 5, extensions: leafIndexExt(123_456_789_012) }],
  });
  const [sct] = extractEmbeddedScts(leaf.der);
  assert.equal(sctLeafIndex(sct), 123_456_789_012);
  const entry = precertSignedEntry(leaf.der, ca.der);
  assert.deepEqual(verifySctSignature(sct, entry, logKeyFromSpki(log.spki)), { valid: true });
  // Flip the index: the signature no longer matches.
  const tampered = { ...sct, extensions: leafIndexExt(123_456_789_013) };
  assert.equal(verifySctSignature(tampered, entry, logKeyFromSpki(log.spki)).valid, false);
});

test('openssl reads our SCT list the same way (independent parser)', () => {
  requireTool('openssl');
  const leaf = issueLeaf({ ca, notBefore: T, notAfter: T + 86_400_000 * 90, scts: [{ log, timestamp: 1_777_777_777_123 }] });
  const file = path.join(tmpDir(), 'leaf.pem');
  writeFileSync(file, leaf.pem);
  const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
  assert.match(text, /CT Precertificate SCTs/);
  const hex = log.logId.toString('hex').toUpperCase().match(/../g)!.join(':');
  assert.ok(text.replace(/\s+/g, '').includes(hex), 'log id shown by openssl');
  assert.match(text, /May\s+3 03:09:37\.123 2026 GMT/);
  assert.equal(parseCertificate(leaf.der).extensions.filter((e) => e.oid === SCT_LIST_OID).length, 1);
});

test('when the SCT list is the only extension, the precert TBS has no extensions field at all', () => {
  const leaf = issueLeaf({ ca, notBefore: T, notAfter: T + 86_400_000, scts: [{ log, timestamp: T + 5 }], onlyCtExtension: true });
  const tbs = precertTbs(parseCertificate(leaf.der));
  assert.ok(tbs.equals(precertTbs(parseCertificate(leaf.precertDer))));
  const wrapped = Buffer.concat([Buffer.of(0x30, 0x81, tbs.length), tbs]);
  const reparsed = parseCertificate(wrapped);
  assert.equal(reparsed.extensionsWrapper, undefined);
  const [sct] = extractEmbeddedScts(leaf.der);
  assert.deepEqual(verifySctSignature(sct, precertSignedEntry(leaf.der, ca.der), logKeyFromSpki(log.spki)), { valid: true });
});
