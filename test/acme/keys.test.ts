import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { createCsr, createTlsAlpn01Certificate, derToPem, generateKey } from '../../main/engine/acme/keys';
import { certificateExtensions, parse } from '../../main/engine/acme/der';

// The hand-built DER is checked by openssl and node:crypto, not by our own parser alone.
test('CSRs for every key type verify with openssl and carry every name, IPs included', async () => {
  requireTool('openssl');
  const dir = tmpDir();
  for (const type of ['ec256', 'ec384', 'rsa2048'] as const) {
    const key = await generateKey(type);
    const names = ['home.example.com', '*.example.com', '192.0.2.7', '2001:db8::1'];
    const file = path.join(dir, `${type}.csr`);
    writeFileSync(file, derToPem(createCsr(names, key), 'CERTIFICATE REQUEST'));
    const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(text, /DNS:home\.example\.com, DNS:\*\.example\.com, IP Address:192\.0\.2\.7, IP Address:2001:DB8:0:0:0:0:0:1/, type);
    assert.match(text, /Subject: CN\s?=\s?home\.example\.com/);
  }
});

test('a name longer than 64 characters goes in the SAN only (empty subject)', async () => {
  requireTool('openssl');
  const long = `${'a'.repeat(60)}.example.com`;
  const file = path.join(tmpDir(), 'long.csr');
  writeFileSync(file, derToPem(createCsr([long], await generateKey('ec256')), 'CERTIFICATE REQUEST'));
  const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(text, new RegExp(`DNS:${long}`));
  assert.doesNotMatch(text, /CN\s?=/);
});

test('the tls-alpn-01 certificate: self-signed ECDSA, the name in SAN, SHA-256 of the key authorization in critical acmeIdentifier', async () => {
  const key = await generateKey('ec256');
  const der = createTlsAlpn01Certificate('alpn.example.com', 'token.thumbprint', key);
  const cert = new X509Certificate(der);
  assert.equal(cert.subjectAltName, 'DNS:alpn.example.com');
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  const ext = parse(der).children[0].children.find((c) => c.tag === 0xa3)!.children[0].children;
  const acme = ext.find((e) => certificateExtensions(der).has('1.3.6.1.5.5.7.1.31') && e.children.length === 3 && e.children[0].value.equals(Buffer.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f])))!;
  assert.ok(acme, 'acmeIdentifier present');
  assert.deepEqual(acme.children[1].value, Buffer.from([0xff]), 'critical');
  const digest = parse(acme.children[2].value).value;
  assert.deepEqual(digest, createHash('sha256').update('token.thumbprint').digest());
});
