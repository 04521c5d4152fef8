import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ManualClock } from '../../main/engine/clock';
import { startServing } from '../../main/engine/proxy/serve';
import { tmpDir } from '../helpers/tmp';
import { LocalCa } from '../certs/local-ca';

/**
 * "Hold the TLS handshake up to N seconds" end to end: `homeport serve`'s proxy (in this
 * process, and with a helper process that asks the main one) answers a ClientHello for a
 * certificate served before it is CT-ready only once the engine's clock reaches readyAt,
 * while handshakes for other names go ahead.
 */
function handshake(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca }, () => {
      resolve(s.getPeerCertificate().serialNumber.toUpperCase().replace(/^0+/, ''));
      s.destroy();
    });
    s.on('error', reject);
  });
}

for (const workers of [1, 2]) {
  test(`a held name's handshake completes only at readyAt (${workers === 1 ? 'one process' : 'two processes'})`, async () => {
    const clock = new ManualClock(Date.now());
    const ca = new LocalCa({ notBefore: () => clock.now() - 60_000, lifetimeMs: 86_400_000 });
    const dataDir = tmpDir();
    writeFileSync(
      path.join(dataDir, 'config.json'),
      JSON.stringify({
        ct: { firstIssuanceMarginSeconds: 120, refreshLogList: false },
        // Shorter than the hold below: the hold pauses the handshake timeout.
        proxy: { listen: ['127.0.0.1'], accessLog: false, handshakeTimeoutMs: 200 },
      }),
    );
    const serving = await startServing({ dataDir, httpPort: 0, httpsPort: 0, workers, engine: { clock, issuer: ca } });
    after(() => serving.stop(100));
    const engine = serving.engine!;
    const port = serving.ports.httpsPort;

    const held = await engine.addCertificate({ names: ['held.test'], keyType: 'rsa2048', serving: { holdHandshakeSeconds: 120 } });
    const view = await engine.issue(held.name);
    assert.equal(view.state, 'active', 'served at once, with its handshakes held');
    const readyAt = view.readiness!.readyAt!;
    assert.ok(readyAt > clock.now());
    // Issued after the held one: a helper that serves it already knows the hold (messages arrive in order).
    const free = await engine.addCertificate({ names: ['free.test'], keyType: 'rsa2048', serving: 'serve-now' });
    await engine.issue(free.name);
    for (let ok = 0, tries = 0; ok < 8; tries++) {
      assert.ok(tries < 200, 'free.test is served by every process');
      ok = await handshake(port, 'free.test', ca.rootPem).then(() => ok + 1, () => 0);
      if (ok === 0) await new Promise((r) => setTimeout(r, 25));
    }

    const completedAt: number[] = [];
    const waiting = Array.from({ length: 6 }, () =>
      handshake(port, 'held.test', ca.rootPem).then((serial) => {
        completedAt.push(clock.now());
        return serial;
      }),
    );
    // Other names are not held, and outlast the handshake timeout the held ones are exempt from.
    for (let i = 0; i < 6; i++) await handshake(port, 'free.test', ca.rootPem);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(completedAt, [], 'no held handshake completed before readyAt');

    clock.set(readyAt);
    const serials = await Promise.all(waiting);
    assert.equal(completedAt.length, 6);
    assert.ok(completedAt.every((t) => t >= readyAt), 'completed at readyAt, after cert:ct-ready');
    assert.deepEqual(new Set(serials), new Set([view.active!.serial.toUpperCase().replace(/^0+/, '')]));
    assert.equal(engine.pendingReadyAt(held.name), undefined);
    assert.equal(await handshake(port, 'held.test', ca.rootPem), view.active!.serial.toUpperCase().replace(/^0+/, ''), 'no hold after readyAt');
  });
}
