import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { createCsr, generateKey, keyToPem } from '../../main/engine/acme/keys';
import { tlsAlpn01Solver } from '../../main/engine/acme/solvers';
import { startChallengeListeners } from '../../main/engine/acme/challenge-listeners';
import { ChallengeStore, ACME_TLS_ALPN } from '../../main/engine/acme/challenges';

// CSRs and tls-alpn-01 certificates come from acme-client, made with our keys: checked here by
// openssl and by a real TLS handshake, as a CA would see them.
test('CSRs carry our key of every type and every name, IPs included (openssl verifies them)', async () => {
  requireTool('openssl');
  const dir = tmpDir();
  for (const type of ['ec256', 'ec384', 'rsa2048'] as const) {
    const key = await generateKey(type);
    const names = ['home.example.com', '*.example.com', '192.0.2.7', '2001:db8::1'];
    const file = path.join(dir, `${type}.csr`);
    writeFileSync(file, await createCsr(names, keyToPem(key)));
    const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(text, /DNS:home\.example\.com, DNS:\*\.example\.com, IP Address:192\.0\.2\.7, IP Address:2001:DB8:0:0:0:0:0:1/, type);
    assert.match(text, /Subject: CN\s?=\s?home\.example\.com/);
    const pub = execFileSync('openssl', ['req', '-in', file, '-noout', '-pubkey'], { encoding: 'utf8' });
    assert.equal(pub.trim(), createPublicKey(key).export({ format: 'pem', type: 'spki' }).toString().trim(), `the CSR holds our ${type} key, not one acme-client made`);
  }
});

test('a name longer than 64 characters goes in the SAN only (no CN)', async () => {
  requireTool('openssl');
  const long = `${'a'.repeat(60)}.example.com`;
  const file = path.join(tmpDir(), 'long.csr');
  writeFileSync(file, await createCsr([long], keyToPem(await generateKey('ec256'))));
  const text = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(text, new RegExp(`DNS:${long}`));
  assert.doesNotMatch(text, /CN\s?=/);
});

test('tls-alpn-01 over a real handshake: self-signed ECDSA, the name in SAN, SHA-256 of the key authorization in critical acmeIdentifier', async () => {
  const store = new ChallengeStore();
  const keyPem = keyToPem(await generateKey('ec256'));
  const solver = tlsAlpn01Solver(store, async () => keyPem);
  await solver.present('alpn.example.com', 'token', 'token.thumbprint');
  const listeners = await startChallengeListeners({ store, httpsPort: 0, host: '127.0.0.1' });
  try {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: listeners.httpsPort, servername: 'alpn.example.com', ALPNProtocols: [ACME_TLS_ALPN], rejectUnauthorized: false }, () => {
        assert.equal(socket.alpnProtocol, ACME_TLS_ALPN);
        resolve(socket.getPeerX509Certificate()!.raw);
        socket.end();
      });
      socket.on('error', reject);
    });
    const cert = new X509Certificate(raw);
    assert.equal(cert.subjectAltName, 'DNS:alpn.example.com');
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec', 'an ECDSA key, not the RSA-2048 acme-client defaults to');
    // Extension: OID 1.3.6.1.5.5.7.1.31, critical TRUE, OCTET STRING { OCTET STRING (32 bytes) }.
    const oid = Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f]);
    const expected = Buffer.concat([oid, Buffer.from([0x01, 0x01, 0xff, 0x04, 0x22, 0x04, 0x20]), createHash('sha256').update('token.thumbprint').digest()]);
    assert.ok(raw.includes(expected), 'critical acmeIdentifier with the digest');
    await solver.cleanup('alpn.example.com', 'token', 'token.thumbprint');
    assert.equal(store.hasTlsAlpn01(), false);
  } finally {
    await listeners.close();
  }
});
