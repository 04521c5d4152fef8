import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { TestCa, startProxy, echoUpstream } from './fixtures';

test('certificate swapped 100 times during a load run: zero failed requests, new handshakes see the new certificate', async () => {
  const ca = new TestCa();
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'swap.test', upstreams: [up.url] }]);
  const certs = Array.from({ length: 8 }, (_, i) => ca.issue('swap', ['swap.test', `alt${i}.swap.test`]));
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toUpperCase();
  p.table.activate(certs[0]!);

  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const seen = new Set<string>();
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const one = (agent: https.Agent | false) =>
    new Promise<void>((resolve) => {
      const req = https.get(
        { host: '127.0.0.1', port: p.httpsPort, servername: 'swap.test', headers: { host: 'swap.test' }, ca: ca.caPem, agent, path: '/' },
        (res) => {
          const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber?.toUpperCase();
          if (serial) seen.add(serial);
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failures.push(`status ${res.statusCode}`);
            resolve();
          });
        },
      );
      req.on('error', (e) => {
        failures.push(e.message);
        resolve();
      });
    });
  const loops = [
    ...Array.from({ length: 8 }, () => false as const),
    ...Array.from({ length: 4 }, () => keepAlive),
  ].map(async (agent) => {
    while (running) await one(agent);
  });

  for (let i = 1; i <= 100; i++) {
    p.table.activate(certs[i % certs.length]!);
    await new Promise((r) => setTimeout(r, 15));
  }
  running = false;
  await Promise.all(loops);
  keepAlive.destroy();

  assert.deepEqual(failures, []);
  assert.ok(ok >= 100, `${ok} requests completed during the swaps`);
  assert.ok(seen.size >= 3, `handshakes saw ${seen.size} different certificates`);
  for (const s of seen) assert.ok(certs.some((c) => serialOf(c.certPem) === s), 'only issued certificates were served');
  // After the last swap (100 % 8 = 4), a new handshake gets exactly that certificate.
  const last = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: p.httpsPort, servername: 'swap.test', headers: { host: 'swap.test' }, ca: ca.caPem, agent: false }, (res) => {
        resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber.toUpperCase());
        res.resume();
      })
      .on('error', reject);
  });
  assert.equal(last, serialOf(certs[100 % certs.length]!.certPem));
});
