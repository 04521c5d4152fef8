import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { rootCertificates } from 'node:tls';
import { decideApplicability, rootIndex } from '../../main/engine/ct/applicability';
import { certificatesFromFile } from '../../main/engine/ct/x509';
import { createCa, createLog, issueLeaf } from './helpers/test-pki';

const ca = createCa('Applicability Test Root');
const other = createCa('Some Other Root');
const leaf = issueLeaf({ ca, notBefore: Date.UTC(2026, 0, 1), notAfter: Date.UTC(2026, 3, 1), scts: [{ log: createLog('l', 'o'), timestamp: Date.UTC(2026, 0, 1) }] });

test('a chain that ends at a private root: CT not required', () => {
  const a = decideApplicability(leaf.der, [ca.der]);
  assert.equal(a.applicable, false);
  assert.match(a.reason, /private CA .*Applicability Test Root/);
});

test('a chain signed by a root in the store is public (signature checked, not just the name)', () => {
  assert.equal(decideApplicability(leaf.der, [ca.der], undefined, rootIndex([ca.der])).applicable, true);
  assert.equal(decideApplicability(leaf.der, [], undefined, rootIndex([ca.der])).applicable, true);
  // A root with another key under the same name does not vouch for it.
  const impostor = createCa('Applicability Test Root');
  assert.equal(decideApplicability(leaf.der, [ca.der], undefined, rootIndex([impostor.der])).applicable, false);
  assert.equal(decideApplicability(leaf.der, [other.der], undefined, rootIndex([ca.der])).applicable, true);
});

test("one of Node's own public roots is public", () => {
  const [rootDer] = certificatesFromFile(rootCertificates[0]);
  const a = decideApplicability(rootDer, []);
  assert.equal(a.applicable, true);
  assert.match(a.reason, /Publicly trusted/);
});

test('--public and --private override the decision', () => {
  assert.equal(decideApplicability(leaf.der, [ca.der], 'public').applicable, true);
  const [rootDer] = certificatesFromFile(rootCertificates[0]);
  assert.equal(decideApplicability(rootDer, [], 'private').applicable, false);
});

test('no issuer given and the issuer is no public root: treated as private, and it says so', () => {
  const a = decideApplicability(leaf.der, []);
  assert.equal(a.applicable, false);
  assert.match(a.reason, /no issuer was given/);
});
