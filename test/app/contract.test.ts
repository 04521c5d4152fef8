import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Runtime } from '../../main/api/runtime';
import type { CertificateDetail, CertificateSummary, ExportFile, Overview, PreflightReport, RouteView, Settings } from '../../main/api/contract';
import { API_METHODS } from '../../main/api/dispatch';
import { addRoute } from '../../main/engine/proxy/route-config';
import { requireTool } from '../helpers/tools';
import { openTestRuntime, startAppWorld, worldDataDir, type AppWorld } from './fixture';

// The contract against a real engine on a temp data directory, a real Pebble and a real
// BIND: every input is validated before the engine sees it, and every method does its job.

let world: AppWorld;
let rt: Runtime;
let dataDir: string;

before(async () => {
  requireTool('openssl');
  requireTool('unzip');
  world = await startAppWorld();
  dataDir = await worldDataDir(world);
  rt = await openTestRuntime(dataDir);
});
after(async () => {
  await rt?.close();
  await world?.stop();
});

async function ok<T>(method: string, input?: unknown): Promise<T> {
  const r = await rt.api.call(method, input);
  assert.ok(r.ok, `${method} failed: ${JSON.stringify(!r.ok && r.error)}`);
  return r.value as T;
}

async function refused(method: string, input: unknown) {
  const r = await rt.api.call(method, input);
  assert.ok(!r.ok, `${method}(${JSON.stringify(input)}) was accepted`);
  return r.error;
}

test('bad input is refused with a plain message naming the field', async () => {
  const cases: [string, unknown, RegExp, string?][] = [
    ['issue', { names: [] }, /Enter at least one domain name/, 'names'],
    ['issue', { names: ['home example.com'] }, /no spaces, slashes/, 'names.0'],
    ['issue', { names: ['https://home.example.com/'] }, /enter just the name/, 'names.0'],
    ['issue', { names: ['home.example.com'], keyType: 'dsa' }, /keyType/, 'keyType'],
    ['issue', { names: ['home.example.com'], servingPolicy: { holdHandshakeSeconds: 9999 } }, /servingPolicy/, 'servingPolicy.holdHandshakeSeconds'],
    ['issue', { names: ['home.example.com'], sneaky: true }, /Unexpected field: sneaky/],
    ['issue', undefined, /missing/],
    ['getCertificate', {}, /name is missing/, 'name'],
    ['getCertificate', { name: 42 }, /name/, 'name'],
    ['exportCertificate', { name: 'home.example.com', format: 'pfx' }, /A PFX file needs a password/, 'password'],
    ['exportCertificate', { name: 'home.example.com', format: 'docx' }, /format/, 'format'],
    ['addRoute', { host: 'media.example.com', upstreams: ['ftp://192.168.1.20'] }, /An upstream is an address like http:\/\//, 'upstreams.0'],
    ['addRoute', { host: 'media.example.com', upstreams: [] }, /at least one upstream/, 'upstreams'],
    ['addRoute', { host: 'media.example.com', upstreams: ['http://x'], pathPrefix: 'api' }, /starts with "\/"/, 'pathPrefix'],
    ['updateSettings', { httpPort: 70000 }, /httpPort/, 'httpPort'],
    ['updateSettings', { email: 'not-an-address' }, /e-mail address like you@example.com/, 'email'],
    ['updateSettings', { resolver: '192.168.1.1' }, /host:port/, 'resolver'],
    ['updateSettings', { resolver: '192.168.1.1:99999' }, /resolver: .*port from 1 to 65535/, 'resolver'],
    ['updateSettings', { resolver: '192.168.1.1:0' }, /port from 1 to 65535/, 'resolver'],
    ['updateSettings', { cas: ['letsencrpyt'] }, /cas\.0: "letsencrpyt" is neither a known CA nor a URL\. Use one of letsencrypt, .* or the https URL of an ACME directory/, 'cas.0'],
    ['updateSettings', { cas: ['letsencrypt', 'http://ca.example/dir'] }, /cas\.1: The CA directory http:\/\/ca\.example\/dir is not an https URL\. .*give the https:\/\/ URL/, 'cas.1'],
    ['updateSettings', { theme: 'neon' }, /theme/, 'theme'],
    ['renew', { name: 'home.example.com', force: 'yes' }, /force/, 'force'],
    ['removeCertificate', {}, /name is missing/, 'name'],
    ['updateSettings', { publicIps: ['192.168.1.300'] }, /IP addresses like 203\.0\.113\.7/, 'publicIps.0'],
    ['updateSettings', { ctMargins: { firstIssuanceSeconds: 1 } }, /At least 2 seconds/, 'ctMargins.firstIssuanceSeconds'],
  ];
  for (const [method, input, message, field] of cases) {
    const e = await refused(method, input);
    assert.equal(e.code, 'api.invalid-input', `${method} ${JSON.stringify(input)}`);
    assert.match(e.message, message, `${method} ${JSON.stringify(input)}: ${e.message}`);
    if (field) assert.equal(e.field, field, `${method} ${JSON.stringify(input)}`);
    assert.ok(e.fix, 'every refusal says what to do');
  }
  const unknown = await refused('deleteEverything', {});
  assert.equal(unknown.code, 'api.unknown-method');
  const proto = await refused('__proto__', {});
  assert.equal(proto.code, 'api.unknown-method');
});

test('the method list is exactly the contract', () => {
  assert.deepEqual([...API_METHODS].sort(), [
    'addRoute', 'exportCertificate', 'getCertificate', 'getSettings', 'issue', 'overview', 'preflight', 'removeCertificate', 'removeRoute', 'renew', 'updateSettings',
  ]);
});

test('before the first certificate the overview says so, and engine errors keep their code and fix', async () => {
  const o = await ok<Overview>('overview');
  assert.equal(o.setUp, false);
  assert.equal(o.host, 'headless');
  assert.deepEqual(o.certificates, []);
  assert.deepEqual(o.account, { email: 'ops@example.com', acceptTos: true, cas: [world.pebble.directoryUrl] });
  const e = await refused('getCertificate', { name: 'nothing.example.com' });
  assert.equal(e.code, 'certs.unknown');
  assert.match(e.message, /There is no certificate named "nothing.example.com"/);
  assert.ok(e.fix);
});

test('settings: engine settings land in config.json, app preferences in app-settings.json (0600)', async () => {
  const before = await ok<Settings>('getSettings');
  assert.equal(before.theme, 'system');
  assert.equal(before.cas[0], world.pebble.directoryUrl);
  const after = await ok<Settings>('updateSettings', { theme: 'dark', notify: { drift: false }, email: 'me@example.com' });
  assert.equal(after.theme, 'dark');
  assert.deepEqual(after.notify, { ctReady: true, failed: true, drift: false });
  assert.equal(after.email, 'me@example.com');
  const config = JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8'));
  assert.equal(config.email, 'me@example.com');
  // The CA's root bundle survives an edit of the CA list that keeps the CA.
  await ok('updateSettings', { cas: [world.pebble.directoryUrl] });
  assert.equal(JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8')).cas[0].caRoot, world.pebble.caRootFile);
  const prefsFile = path.join(dataDir, 'app-settings.json');
  assert.equal(JSON.parse(readFileSync(prefsFile, 'utf8')).theme, 'dark');
  assert.equal(statSync(prefsFile).mode & 0o777, 0o600);
  const login = await refused('updateSettings', { launchAtLogin: true });
  assert.equal(login.code, 'settings.not-here');
  // An empty resolver goes back to the system resolver.
  assert.equal(before.resolver, world.bind.address);
  assert.equal((await ok<Settings>('updateSettings', { resolver: '' })).resolver, undefined);
  assert.equal('resolver' in JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8')), false);
  assert.equal((await ok<Settings>('updateSettings', { resolver: world.bind.address })).resolver, world.bind.address);
  const ct = await ok<Settings>('updateSettings', { ctMargins: { renewalSeconds: 7200 }, publicIps: ['203.0.113.10', '2001:db8::10'] });
  assert.deepEqual(ct.ctMargins, { firstIssuanceSeconds: 5, renewalSeconds: 7200 });
  const saved = JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8'));
  assert.equal(saved.ct.renewalMarginSeconds, 7200);
  assert.deepEqual(saved.publicIps, ['203.0.113.10', '2001:db8::10']);
  await ok('updateSettings', { theme: 'system', email: 'ops@example.com', notify: { drift: true }, publicIps: ['203.0.113.10'] });
});

test('start at login: offered only where the system has it; a refusal saves nothing else from the form', async () => {
  const form = { email: 'half@example.com', httpPort: 8081, theme: 'dark', notify: { drift: false }, launchAtLogin: true };
  const unchanged = async (api: Runtime['api'], dir: string) => {
    const r = await api.call('getSettings', undefined);
    assert.ok(r.ok);
    const s = r.value as Settings;
    assert.deepEqual([s.email, s.httpPort, s.theme, s.notify.drift, s.launchAtLogin], ['ops@example.com', world.pebble.httpPort, 'system', true, false]);
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).email, 'ops@example.com');
  };

  assert.equal((await ok<Overview>('overview')).canLaunchAtLogin, false, 'headless: not offered');
  assert.equal((await refused('updateSettings', form)).code, 'settings.not-here');
  await unchanged(rt.api, dataDir);

  // Electron on Linux answers false: the system did not take the login item.
  let accepted = false;
  const asked: boolean[] = [];
  const desktopDir = await worldDataDir(world);
  const setLaunchAtLogin = (on: boolean) => {
    asked.push(on);
    return accepted;
  };
  const desktop = await openTestRuntime(desktopDir, { host: 'electron', setLaunchAtLogin });
  try {
    const overview = await desktop.api.call('overview', undefined);
    assert.ok(overview.ok && (overview.value as Overview).canLaunchAtLogin);
    const r = await desktop.api.call('updateSettings', form);
    assert.ok(!r.ok && r.error.code === 'settings.login-item', JSON.stringify(r));
    await unchanged(desktop.api, desktopDir);
    accepted = true;
    const saved = await desktop.api.call('updateSettings', form);
    assert.ok(saved.ok, JSON.stringify(saved));
    const s = saved.value as Settings;
    assert.deepEqual([s.email, s.httpPort, s.theme, s.notify.drift, s.launchAtLogin], ['half@example.com', 8081, 'dark', false, true]);
    assert.deepEqual(asked, [true, true]);
  } finally {
    await desktop.close();
  }
});

test('pre-flight: ready with http-01 for a name pointing here, blocked with the fix for a stray AAAA', async () => {
  const good = await ok<PreflightReport>('preflight', { names: ['home.example.com'] });
  assert.equal(good.verdict, 'ready');
  assert.equal(good.recommendedChallenge, 'http-01');
  assert.equal(good.names[0]!.checks.find((c) => c.id === 'dns')!.status, 'pass');
  const bad = await ok<PreflightReport>('preflight', { names: ['nas.example.com'] });
  assert.equal(bad.verdict, 'blocked');
  const dns = bad.names[0]!.checks.find((c) => c.id === 'dns')!;
  assert.equal(dns.status, 'fail');
  // Pebble is a CA given by URL: named by where it is, where a CA name belongs.
  assert.match(dns.summary, /^nas\.example\.com has an AAAA record 2001:db8::99 that is not this host: the CA at 127\.0\.0\.1:\d+ prefers IPv6 and will fail\.$/);
  assert.match(dns.fix ?? '', /Remove the AAAA record/);
});

let issued: CertificateSummary;

test('issue gets a certificate from Pebble; overview and detail show it', async () => {
  issued = await ok<CertificateSummary>('issue', { names: ['home.example.com', 'www.home.example.com'], servingPolicy: 'serve-now' });
  assert.equal(issued.name, 'home.example.com');
  assert.deepEqual(issued.names, ['home.example.com', 'www.home.example.com']);
  assert.equal(issued.state, 'active', 'serve-now serves the first certificate at once');
  assert.ok(issued.current);
  assert.ok(issued.current.readyAt && Date.parse(issued.current.readyAt) > Date.parse(issued.current.notBefore), 'readyAt follows notBefore');
  const o = await ok<Overview>('overview');
  assert.equal(o.setUp, true);
  assert.deepEqual(o.certificates.map((c) => c.name), ['home.example.com']);

  const d = await ok<CertificateDetail>('getCertificate', { name: 'home.example.com' });
  const leaf = new X509Certificate(readFileSync(path.join(dataDir, 'certs', 'home.example.com', 'current', 'cert.pem')));
  assert.equal(d.fingerprint, leaf.fingerprint256);
  assert.equal(d.current!.serial, leaf.serialNumber.toUpperCase());
  assert.equal(d.keyType, 'ec256');
  assert.equal(d.ct.applicable, false, "Pebble is a private CA: CT does not apply");
  assert.match(d.ct.note ?? '', /private CA/);
  assert.ok(d.renewAt && Date.parse(d.renewAt) > Date.now());
});

function bytes(f: ExportFile): Buffer {
  return Buffer.from(f.base64, 'base64');
}

test('export: PEM parts, a PFX openssl reads with its password, and a zip of everything', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'homeport-export-test-'));
  const full = await ok<ExportFile>('exportCertificate', { name: 'home.example.com', format: 'fullchain' });
  assert.equal(full.filename, 'home.example.com.fullchain.pem');
  const pems = bytes(full).toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  assert.ok(pems.length >= 2, 'leaf and intermediate');
  const leaf = new X509Certificate(pems[0]!);
  assert.ok(leaf.verify(new X509Certificate(pems[1]!).publicKey));
  const key = await ok<ExportFile>('exportCertificate', { name: 'home.example.com', format: 'key' });
  assert.ok(leaf.checkPrivateKey(createPrivateKey(bytes(key))));
  const cert = await ok<ExportFile>('exportCertificate', { name: 'home.example.com', format: 'pem' });
  assert.equal(new X509Certificate(bytes(cert)).fingerprint256, leaf.fingerprint256);

  const pfx = await ok<ExportFile>('exportCertificate', { name: 'home.example.com', format: 'pfx', password: 'correct horse' });
  assert.equal(pfx.mime, 'application/x-pkcs12');
  const pfxFile = path.join(dir, pfx.filename);
  writeFileSync(pfxFile, bytes(pfx));
  const info = execFileSync('openssl', ['pkcs12', '-in', pfxFile, '-passin', 'pass:correct horse', '-nodes'], { encoding: 'utf8' });
  assert.match(info, /BEGIN PRIVATE KEY/);
  assert.match(info, /subject=.*home\.example\.com/);
  assert.throws(() => execFileSync('openssl', ['pkcs12', '-in', pfxFile, '-passin', 'pass:wrong', '-nodes'], { stdio: 'pipe' }));

  const zip = await ok<ExportFile>('exportCertificate', { name: 'home.example.com', format: 'zip', password: 'correct horse' });
  assert.equal(zip.filename, 'home.example.com.zip');
  const zipFile = path.join(dir, zip.filename);
  writeFileSync(zipFile, bytes(zip));
  const list = execFileSync('unzip', ['-Z1', zipFile], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(list, ['home.example.com/cert.pem', 'home.example.com/chain.pem', 'home.example.com/fullchain.pem', 'home.example.com/home.example.com.pfx', 'home.example.com/key.pem']);

  const missing = await refused('exportCertificate', { name: 'unknown.example.com', format: 'zip' });
  assert.equal(missing.code, 'certs.unknown');
});

test('renew now: a new certificate, the first one kept until its successor is ready', async () => {
  const renewed = await ok<CertificateSummary>('renew', { name: 'home.example.com', force: true });
  assert.equal(renewed.current!.serial, issued.current!.serial, 'the active certificate stays until the new one is ready');
  assert.ok(renewed.next, 'the successor rests');
  assert.notEqual(renewed.next.serial, issued.current!.serial);
  assert.equal(renewed.state, 'resting');
  const d = await ok<CertificateDetail>('getCertificate', { name: 'home.example.com' });
  assert.equal(d.next!.serial, renewed.next.serial);
});

test('routes: add, list with their settings, remove', async () => {
  const routes = await ok<RouteView[]>('addRoute', { host: 'Media.Example.com', upstreams: ['http://192.168.1.20:8096'] });
  assert.deepEqual(routes.map((r) => [r.host, r.upstreams]), [['media.example.com', ['http://192.168.1.20:8096']]]);
  assert.equal(routes[0]!.counters, null, 'no proxy runs in this process');
  const again = await ok<Overview>('overview');
  assert.deepEqual(again.routes.map((r) => r.host), ['media.example.com']);
  const removed = await ok<RouteView[]>('removeRoute', { host: 'media.example.com' });
  assert.deepEqual(removed, []);
  const e = await refused('removeRoute', { host: 'media.example.com' });
  assert.match(e.code, /route/);
});

test('routes: the dashboard changing an address keeps the sign-in and allow-list set up elsewhere; remove takes only the row', async () => {
  // Set up as `homeport route add nas.example.com … --auth ann:secret --allow 192.168.0.0/16 --hsts` would.
  await addRoute(dataDir, { host: 'nas.example.com', upstreams: ['http://192.168.1.5:5000'], auth: ['ann:secret'], allow: ['192.168.0.0/16'], hsts: true });
  await addRoute(dataDir, { host: 'nas.example.com', pathPrefix: '/grafana', upstreams: ['http://192.168.1.5:3000'] });
  const changed = await ok<RouteView[]>('addRoute', { host: 'nas.example.com', upstreams: ['http://192.168.1.7:5000'] });
  const nas = changed.find((r) => !r.pathPrefix)!;
  assert.deepEqual(nas.upstreams, ['http://192.168.1.7:5000']);
  assert.equal(nas.signIn, true);
  assert.deepEqual(nas.allow, ['192.168.0.0/16']);
  const stored = JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8')).routes.find((r: { pathPrefix?: string }) => !r.pathPrefix);
  assert.equal(stored.hsts, true, 'options the dashboard does not show are kept too');
  assert.equal(stored.basicAuth.users[0].name, 'ann');

  const left = await ok<RouteView[]>('removeRoute', { host: 'nas.example.com', pathPrefix: '/grafana' });
  assert.deepEqual(left.map((r) => `${r.host}${r.pathPrefix ?? ''}`), ['nas.example.com']);
  const none = await ok<RouteView[]>('removeRoute', { host: 'nas.example.com', pathPrefix: '' });
  assert.deepEqual(none, []);
});

test('remove: the certificate leaves the config, its files move aside', async () => {
  const left = await ok<CertificateSummary[]>('removeCertificate', { name: 'home.example.com' });
  assert.deepEqual(left, []);
  assert.equal((await ok<Overview>('overview')).certificates.length, 0);
  assert.ok(readdirSync(path.join(dataDir, 'removed')).some((d) => d.startsWith('home.example.com')), 'the files are kept in removed/');
  const again = await refused('removeCertificate', { name: 'home.example.com' });
  assert.equal(again.code, 'certs.unknown');
});
