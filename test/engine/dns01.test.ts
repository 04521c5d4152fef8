import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { renameSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Engine } from '../../main/engine/engine';
import { updateConfig } from '../../main/engine/config/file';
import type { Config } from '../../main/engine/config/schema';
import type { HomeportError } from '../../main/engine/errors';
import { type Bind, startBind } from '../helpers/bind';
import { type Pebble, startPebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { homeport } from '../cli/helpers';

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

/**
 * Issues `name` with ports 80 and 443 held and the DNS providers `providers` configured (none
 * named on the certificate): the error, which must come before any order.
 */
async function refusedBehindBusyPorts(name: string, providers: (home: Config['dnsProviders'][string]) => Config['dnsProviders']): Promise<{ e: HomeportError; ports: { httpPort: number; httpsPort: number } }> {
  const ports = await busyPorts();
  const engine = await engineWithBind(ports);
  try {
    await engine.updateConfig((c) => ({ ...c, dnsProviders: providers(c.dnsProviders.home!) }));
    const cert = await engine.addCertificate({ names: [name] });
    const steps: string[] = [];
    const e = await engine.issue(cert.name, { onProgress: (s) => steps.push(s) }).then(
      () => assert.fail('issued with no usable challenge'),
      (err: HomeportError) => err,
    );
    assert.equal(e.code, 'acme.no-usable-challenge', e.message);
    assert.ok(!steps.some((s) => /order/.test(s)), steps.join('\n'));
    return { e, ports };
  } finally {
    await engine.close();
    ports.close();
  }
}

test('ports 80 and 443 held and no DNS provider: the error says why each port failed, before any order', async () => {
  // A configured provider is used without being named: this needs none at all.
  const { e, ports } = await refusedBehindBusyPorts('noprovider.example.test', () => ({}));
  assert.match(e.message, new RegExp(`Port ${ports.httpPort} is already in use .* Port ${ports.httpsPort} is already in use .* dns-01 needs a DNS provider`));
  assert.match(e.fix ?? '', new RegExp(`Stop the program using port ${ports.httpPort}.*configure a DNS provider`));
});

test('ports 80 and 443 held and several DNS providers, none named: the error says which to name, before any order', async () => {
  const { e } = await refusedBehindBusyPorts('unnamed-provider.example.test', (home) => ({ home, office: home }));
  assert.match(e.message, /dns-01 needs a DNS provider, and the certificate names no DNS provider while several are configured \(home, office\)/);
  assert.doesNotMatch(e.message, /none is configured/);
  assert.match(e.fix ?? '', /--dns-provider home or --dns-provider office/);
});

/**
 * The next order comes from a new account: Pebble now and then reuses a valid authorization
 * even with PEBBLE_AUTHZREUSE=0, and a renewal that must be seen using dns-01 needs a challenge.
 */
function forgetAccount(dataDir: string) {
  renameSync(path.join(dataDir, 'accounts'), path.join(dataDir, `accounts.before-${Date.now()}`));
}

// What the app does: it cannot name a provider, and pre-flight promises the only configured one.
test('a wildcard whose certificate names no DNS provider is issued and renewed with dns-01 through the only one configured', async () => {
  let engine = await engineWithBind({ httpPort: pebble.httpPort, httpsPort: pebble.tlsPort });
  const { dataDir } = engine;
  try {
    const cert = await engine.addCertificate({ names: ['*.unnamed.example.test'] });
    assert.equal(cert.dnsProvider, undefined);
    const steps: string[] = [];
    const view = await engine.issue(cert.name, { onProgress: (s) => steps.push(s) });
    assert.equal(view.state, 'active', steps.join('\n'));
    assert.ok(new X509Certificate((await engine.activeCertificate(cert.name))!.certPem).checkHost('any.unnamed.example.test'));
    await engine.close();

    forgetAccount(dataDir);
    engine = await Engine.open({ dataDir });
    steps.length = 0;
    const [renewed] = await engine.renew({ id: cert.name, force: true, onProgress: (_id, s) => steps.push(s) });
    assert.equal(renewed!.action, 'issued', renewed!.action === 'failed' ? renewed!.error.message : steps.join('\n'));
    assert.ok(steps.some((s) => /unnamed\.example\.test with dns-01/.test(s)), steps.join('\n'));
  } finally {
    await engine.close();
  }
});

test('homeport issue of a wildcard with a DNS provider configured but not named issues it with dns-01, and homeport renew renews it', async () => {
  const engine = await engineWithBind({ httpPort: pebble.httpPort, httpsPort: pebble.tlsPort });
  await engine.close();
  const { dataDir } = engine;
  const issued = await homeport(['issue', '*.cli.example.test', '--data-dir', dataDir, '--json']);
  assert.equal(issued.code, 0, issued.stderr);
  assert.equal(JSON.parse(issued.stdout).state, 'active', issued.stdout);
  assert.match(issued.stderr, /cli\.example\.test with dns-01/);

  forgetAccount(dataDir);
  const renewed = await homeport(['renew', '--force', 'wildcard_.cli.example.test', '--data-dir', dataDir, '--json']);
  assert.equal(renewed.code, 0, renewed.stderr);
  assert.match(renewed.stderr, /cli\.example\.test with dns-01/);
  assert.deepEqual(await bind.txt('_acme-challenge.cli.example.test'), [], 'the record is cleaned up');
});

test('a DNS provider configured while the engine runs is used at the next order by a certificate that names none', async () => {
  const engine = await engineWithBind({ httpPort: pebble.httpPort, httpsPort: pebble.tlsPort });
  const { dnsProviders } = engine.config;
  try {
    await engine.updateConfig((c) => ({ ...c, dnsProviders: {} }));
    // BIND has an address for ns1 only: http-01 reaches this host there, and the engine keeps that issuer.
    const plain = await engine.addCertificate({ names: ['ns1.example.test'], challenge: 'http-01' });
    assert.equal((await engine.issue(plain.name)).state, 'active');

    await engine.updateConfig((c) => ({ ...c, dnsProviders }));
    const wildcard = await engine.addCertificate({ names: ['*.later.example.test'] });
    const steps: string[] = [];
    const view = await engine.issue(wildcard.name, { onProgress: (s) => steps.push(s) });
    assert.equal(view.state, 'active', `${view.failure?.message}\n${steps.join('\n')}`);
  } finally {
    await engine.close();
  }
});
