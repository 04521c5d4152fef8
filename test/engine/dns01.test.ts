import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Engine } from '../../main/engine/engine';
import { updateConfig } from '../../main/engine/config/file';
import type { HomeportError } from '../../main/engine/errors';
import { type Bind, startBind } from '../helpers/bind';
import { type Pebble, startPebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';

// The engine's choice of where dns-01 waits for its TXT record: with no resolver configured,
// at the RFC 2136 provider's own server (the zone's primary), not the system resolver, which
// cannot see test zones at all (nor, in real life, a record the primary has not pushed yet).

let bind: Bind;
let pebble: Pebble;

before(async () => {
  bind = await startBind({ keys: [{ name: 'homeport-acme' }], zones: [{ name: 'example.test', updateKeys: ['homeport-acme'] }] });
  pebble = await startPebble({ dnsServer: bind.address });
});

after(async () => {
  await pebble?.stop();
  await bind?.stop();
});

/** An engine ordering from Pebble, with BIND (RFC 2136) as the DNS provider `home` and these challenge ports. */
async function engineWithBind(ports: { httpPort: number; httpsPort: number }): Promise<Engine> {
  const dataDir = tmpDir();
  const key = bind.keys['homeport-acme']!;
  await updateConfig(dataDir, (c) => ({
    ...c,
    email: 'admin@example.test',
    acceptTos: true,
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    listeners: { httpPort: ports.httpPort, httpsPort: ports.httpsPort },
    dnsProviders: { home: { provider: 'rfc2136', server: bind.address, keyName: key.name, keyAlgorithm: key.algorithm, keySecret: key.secret } },
    ct: { ...c.ct, refreshLogList: false },
  }));
  return Engine.open({ dataDir });
}

test('dns-01 through RFC 2136 without a configured resolver waits at the provider\'s server and issues a wildcard', async () => {
  const engine = await engineWithBind({ httpPort: pebble.httpPort, httpsPort: pebble.tlsPort });
  try {
    assert.equal(engine.config.resolver, undefined);
    const cert = await engine.addCertificate({ names: ['*.example.test', 'example.test'], challenge: 'dns-01', dnsProvider: 'home' });
    const steps: string[] = [];
    const view = await engine.issue(cert.name, { onProgress: (s) => steps.push(s) });
    assert.equal(view.state, 'active', steps.join('\n'));
    const active = await engine.activeCertificate(cert.name);
    assert.ok(new X509Certificate(active!.certPem).checkHost('anything.example.test'));
    assert.deepEqual(await bind.txt('_acme-challenge.example.test'), [], 'the record is cleaned up');
  } finally {
    await engine.close();
  }
});

/** Two ports another program holds (nginx on 80 and 443, say), so no challenge listener can start. */
async function busyPorts(): Promise<{ httpPort: number; httpsPort: number; close: () => void }> {
  const servers = [net.createServer(), net.createServer()];
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, resolve))));
  const [httpPort, httpsPort] = servers.map((s) => (s.address() as AddressInfo).port) as [number, number];
  return { httpPort, httpsPort, close: () => servers.forEach((s) => s.close()) };
}

test('ports 80 and 443 held by another program: with a DNS provider and no forced challenge, dns-01 issues', async () => {
  const ports = await busyPorts();
  const engine = await engineWithBind(ports);
  try {
    for (const names of [['busy.example.test'], ['*.busy.example.test']]) {
      const cert = await engine.addCertificate({ names, dnsProvider: 'home' });
      const steps: string[] = [];
      const view = await engine.issue(cert.name, { onProgress: (s) => steps.push(s) });
      assert.equal(view.state, 'active', steps.join('\n'));
      assert.ok(steps.some((s) => /with dns-01/.test(s)), steps.join('\n'));
    }
  } finally {
    await engine.close();
    ports.close();
  }
});

test('ports 80 and 443 held and no DNS provider: the error says why each port failed, before any order', async () => {
  const ports = await busyPorts();
  const engine = await engineWithBind(ports);
  try {
    const cert = await engine.addCertificate({ names: ['noprovider.example.test'] });
    const steps: string[] = [];
    await assert.rejects(engine.issue(cert.name, { onProgress: (s) => steps.push(s) }), (e: HomeportError) => {
      assert.equal(e.code, 'acme.no-usable-challenge', e.message);
      assert.match(e.message, new RegExp(`Port ${ports.httpPort} is already in use .* Port ${ports.httpsPort} is already in use .* dns-01 needs a DNS provider`));
      assert.match(e.fix ?? '', new RegExp(`Stop the program using port ${ports.httpPort}.*configure a DNS provider`));
      return true;
    });
    assert.ok(!steps.some((s) => /order/.test(s)), steps.join('\n'));
  } finally {
    await engine.close();
    ports.close();
  }
});
