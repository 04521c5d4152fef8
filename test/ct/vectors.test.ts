import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fixtures } from '../helpers/paths';
import { certificatesFromFile, parseCertificate } from '../../main/engine/ct/x509';
import { extractEmbeddedScts } from '../../main/engine/ct/sct';
import { leafHash, precertSignedEntry } from '../../main/engine/ct/precert';
import { logKeyFromSpki, verifySctSignature } from '../../main/engine/ct/verify';

const dir = path.join(fixtures, 'ct', 'synthetic');
const der = (name: string) => certificatesFromFile(readFileSync(path.join(dir, name)))[0];
const logKey = logKeyFromSpki(
  readFileSync(path.join(dir, 'ct-server-key-public.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, ''),
);

function check(leaf: string, issuer: string) {
  const leafDer = der(leaf);
  const scts = extractEmbeddedScts(leafDer);
  assert.equal(scts.length, 1);
  const entry = precertSignedEntry(leafDer, der(issuer));
  return { sct: scts[0], entry, result: verifySctSignature(scts[0], entry, logKey) };
}

test('test-embedded-cert: valid signature, timestamp and RFC 6962 leaf hash as published', () => {
  const { sct, entry, result } = check('test-embedded-cert.pem', 'ca-cert.pem');
  assert.deepEqual(result, { valid: true });
  assert.equal(sct.logIdBase64, '3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=');
  assert.equal(sct.timestamp, 1365181456275);
  assert.equal(sct.version, 0);
  assert.equal(sct.extensions.length, 0);
  assert.equal(leafHash(sct, entry).toString('base64'), 'mbk+d5FDW3oNZJCbOi828rqC3hf+qhigTWVGcXEZq1U=');
});

test('precertificate signed by a precert-signing CA: valid (issuer_key_hash is the final issuer)', () => {
  assert.deepEqual(check('test-embedded-with-preca-cert.pem', 'ca-cert.pem').result, { valid: true });
});

test('precert-signing CA under an intermediate: valid', () => {
  assert.deepEqual(check('test-embedded-with-intermediate-preca-cert.pem', 'intermediate-cert.pem').result, { valid: true });
});

test('test-invalid-embedded-cert: signature invalid, with a reason', () => {
  const { result } = check('test-invalid-embedded-cert.pem', 'ca-cert.pem');
  assert.equal(result.valid, false);
  assert.match(result.reason ?? '', /does not match/);
});

test('the wrong issuer makes a valid SCT fail (issuer_key_hash is covered)', () => {
  const { result } = check('test-embedded-cert.pem', 'intermediate-cert.pem');
  assert.equal(result.valid, false);
});

test('parsed fields of the synthetic leaf', () => {
  const c = parseCertificate(der('test-embedded-cert.pem'));
  assert.equal(c.serialHex, '07');
  assert.equal(c.notBefore, Date.UTC(2012, 5, 1));
  assert.equal(c.notAfter, Date.UTC(2022, 5, 1));
});
