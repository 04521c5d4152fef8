import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { ChallengeStore } from '../../main/engine/acme/challenges';
import { ManualClock } from '../../main/engine/clock';
import { Engine } from '../../main/engine/engine';
import { updateConfig, loadConfig } from '../../main/engine/config/file';
import { EngineEmitter, type EngineEvents } from '../../main/engine/events';
import { HomeportError } from '../../main/engine/errors';
import { IssuancePreflight, blockingFindings } from '../../main/engine/preflight/issuance';
import { runPreflight } from '../../main/engine/preflight/report';
import { fixedAddresses } from '../../main/engine/preflight/addresses';
import { RateLimitLedger } from '../../main/engine/preflight/rate-limits';
import { tmpDir } from '../helpers/tmp';
import { LocalCa } from '../certs/local-ca';
import { startWorld, HOST_V4, HOST_V6, type World } from '../preflight/zones';
import { freePort } from '../helpers/ports';

/**
 * Pre-flight inside the engine's lifecycle, against a real BIND (test/preflight/zones.ts):
 * conclusive findings block before the CA is asked; findings that depend on the network
 * inform (and feed the drift watch) but never block.
 */
let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world?.stop());

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const HOUR = 3_600_000;

async function setup(extra: Record<string, unknown> = {}) {
  const clock = new ManualClock(T0);
  const dataDir = tmpDir();
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  // Let's Encrypt (a preset, so a public CA) with its CAA identity known offline; this host's addresses given.
  await updateConfig(dataDir, (c) => ({
    ...c,
    resolver: world.parent.address,
    publicIps: [HOST_V4, HOST_V6],
    listeners: { httpPort, httpsPort },
    ct: { ...c.ct, refreshLogList: false },
    ...extra,
  }));
  const ca = new LocalCa({ notBefore: () => clock.now() - HOUR, lifetimeMs: 90 * 86_400_000 });
  // LocalCa stands in for the CA; preflight: true asks for the engine's default pre-flight anyway.
  const engine = await Engine.open({ dataDir, clock, issuer: ca, preflight: true, random: () => 0.5 });
  return { clock, dataDir, engine, ca };
}

async function blocked(engine: Engine, ca: LocalCa, names: string[], message: RegExp, extra: { challenge?: 'http-01' | 'dns-01' } = {}) {
  const cert = await engine.addCertificate({ names, keyType: 'rsa2048', ...extra });
  await assert.rejects(engine.issue(cert.name), (e: HomeportError) => {
    assert.equal(e.code, 'preflight.blocked');
    assert.match(e.message, message);
    assert.ok(e.fix, 'with the fix');
    return true;
  });
  const status = await engine.status(cert.name);
  assert.equal(status.state, 'blocked');
  assert.equal(status.failure?.code, 'preflight.blocked');
  assert.equal(ca.issued, 0, 'the CA was not asked');
}

test('conclusive findings block before the CA is asked: internal name, public suffix, wildcard without dns-01, CAA for another CA', async () => {
  const { engine, ca } = await setup();
  await blocked(engine, ca, ['nas.lan'], /nas\.lan ends in \.lan, a name that exists only inside private networks/);
  await blocked(engine, ca, ['co.uk'], /co\.uk is a public suffix/);
  await blocked(engine, ca, ['*.example.com'], /wildcard: it needs the dns-01 challenge, and no DNS provider is configured/);
  await blocked(engine, ca, ['*.www.example.com'], /validate wildcards only with dns-01, not http-01/, { challenge: 'http-01' });
  await blocked(engine, ca, ['otherca.example.com'], /otherca\.example\.com: .*CAA.*pki\.goog/);
  await engine.close();
});

test('dns-01 with several DNS providers configured and none named on the certificate: blocked, saying which to name', async () => {
  const provider = { provider: 'rfc2136', server: world.parent.address, keyName: 'k', keySecret: 'c2VjcmV0' };
  const { engine, ca } = await setup({ dnsProviders: { home: provider, office: provider } });
  await blocked(engine, ca, ['*.example.com'], /wildcard: it needs the dns-01 challenge, and the certificate names no DNS provider while several are configured \(home, office\)/);
  await blocked(engine, ca, ['www.example.com'], /set to the dns-01 challenge, and the certificate names no DNS provider while several/, { challenge: 'dns-01' });
  const status = await engine.status('www.example.com');
  assert.match(status.failure!.fix!, /--dns-provider home/);
  await engine.close();
});

test('the rate-limit ledger at its limit blocks with the time it frees up; the served certificate stays', async () => {
  const { engine, ca, dataDir, clock } = await setup();
  const cert = await engine.addCertificate({ names: ['www.example.com'], keyType: 'rsa2048' });
  const issued = await engine.issue(cert.name);
  assert.equal(issued.state, 'active');
  // What the ACME issuer records: five certificates for exactly these names this week.
  const ledger = await RateLimitLedger.open(path.join(dataDir, 'rate-limits.json'), clock);
  for (let i = 0; i < 5; i++) await ledger.recordCertificate({ ca: 'letsencrypt', names: ['www.example.com'], renewal: true });
  await assert.rejects(engine.issue(cert.name), /would refuse now: The limit of 5 certificates for exactly the same names/);
  assert.equal(ca.issued, 1);
  const status = await engine.status(cert.name);
  assert.equal(status.state, 'blocked');
  assert.match(status.failure!.fix!, /^Wait .* \(until 20\d\d-/);
  assert.ok(status.active, 'the served certificate stays');
  await engine.close();
});

test('findings that depend on the network do not block: an AAAA pointing elsewhere is issued anyway', async () => {
  const { engine, ca } = await setup();
  const cert = await engine.addCertificate({ names: ['v6bad.example.com'], keyType: 'rsa2048' });
  const view = await engine.issue(cert.name);
  assert.equal(view.state, 'active');
  assert.equal(ca.issued, 1);
  await engine.close();
});

test('a name no public CA issues for blocks only with a known public CA: a private CA given by URL may issue for nas.lan', async () => {
  const report = await runPreflight({
    names: ['nas.lan'],
    ca: { id: 'letsencrypt', displayName: "Let's Encrypt", identities: ['letsencrypt.org'], issuesForIp: true },
    dns: world.dns,
    addresses: fixedAddresses([HOST_V4]),
    httpPort: await freePort(),
    httpsPort: await freePort(),
  });
  assert.equal(report.names[0]!.checks[0]!.status, 'fail');
  const config = await loadConfig(tmpDir());
  assert.equal(blockingFindings(report, config)[0]?.check.id, 'name', 'Let\'s Encrypt (a preset)');
  assert.deepEqual(blockingFindings(report, { ...config, cas: [{ ca: 'https://ca.home.example.com/acme/directory' }] }), []);
});

test('drift watch: the first issuance records the baseline; a changed public address raises dns:drift before the renewal and on schedule', async () => {
  const { engine, dataDir, clock } = await setup();
  const seen: EngineEvents['dns:drift'][] = [];
  engine.events.on('dns:drift', (d) => seen.push(d));
  const cert = await engine.addCertificate({ names: ['www.example.com'], keyType: 'rsa2048' });
  const first = await engine.issue(cert.name);
  assert.ok(existsSync(path.join(dataDir, 'preflight-baseline.json')), 'baseline saved in the data directory');
  assert.equal(seen.length, 0, 'nothing to compare with yet');

  await engine.updateConfig((c) => ({ ...c, publicIps: ['203.0.113.99'] }));
  const renewed = await engine.issue(cert.name);
  assert.equal(renewed.failure, undefined, 'drift informs, it does not block');
  assert.notEqual(renewed.active!.serial, first.active!.serial, 'renewed');
  const ids = seen.map((d) => d.checkId);
  assert.ok(ids.includes('public-address') && ids.includes('dns'), ids.join(', '));
  assert.match(seen.find((d) => d.checkId === 'public-address')!.after, /203\.0\.113\.99/);

  // On schedule while started: the next change is seen without a renewal.
  seen.length = 0;
  await engine.start();
  await engine.updateConfig((c) => ({ ...c, publicIps: ['203.0.113.98'] }));
  const drift = new Promise<EngineEvents['dns:drift']>((resolve) => engine.events.once('dns:drift', resolve));
  clock.advance(6 * HOUR);
  assert.equal((await drift).checkId, 'public-address');
  assert.equal((await loadConfig(dataDir)).publicIps?.[0], '203.0.113.98');
  await engine.close();
});

test('with the proxy answering challenges on its ports, those ports are not a finding (no false drift while it serves)', async () => {
  const { dataDir, clock } = await setup();
  const config = await loadConfig(dataDir);
  // The proxy's listener on the HTTP port.
  const proxy = net.createServer();
  await new Promise<void>((r) => proxy.listen(config.listeners.httpPort, r));
  const engine = await Engine.open({ dataDir, clock, issuer: new LocalCa({ notBefore: () => clock.now(), lifetimeMs: 86_400_000 }), preflight: true, challenges: new ChallengeStore() });
  try {
    const cert = await engine.addCertificate({ names: ['www.example.com'], keyType: 'rsa2048' });
    assert.equal((await engine.issue(cert.name)).state, 'active');
    const baseline = JSON.parse(readFileSync(path.join(dataDir, 'preflight-baseline.json'), 'utf8'))['www.example.com'];
    assert.equal(baseline.ports.status, 'pass', baseline.ports.summary);
    assert.match(baseline.ports.summary, /Homeport's proxy listens on ports/);
    assert.equal(baseline.hairpin.status, 'skip');
    assert.equal(baseline.challenge.status, 'pass', baseline.challenge.summary);
  } finally {
    proxy.close();
    await engine.close();
  }
});

test('checks that cannot finish (a DNS server that never answers) give up after the timeout and let the CA decide', async () => {
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  try {
    const dataDir = tmpDir();
    const port = (silent.address() as AddressInfo).port;
    const config = (await loadConfig(dataDir)) as Awaited<ReturnType<typeof loadConfig>>;
    const events = new EngineEmitter();
    const steps: string[] = [];
    events.on('progress', (p) => steps.push(p.step));
    const preflight = new IssuancePreflight({
      dataDir,
      config: () => ({ ...config, resolver: `127.0.0.1:${port}`, publicIps: [HOST_V4] }),
      clock: new ManualClock(T0),
      events,
      timeoutMs: 300,
    });
    await preflight.check({ name: 'slow', names: ['www.example.com'], keyType: 'ec256' });
    assert.match(steps.join('\n'), /did not finish within 0\.3 s; asking the CA anyway/);
  } finally {
    silent.close();
  }
});
