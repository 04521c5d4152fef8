import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs, readFileSync, statSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { startPebble, type Pebble } from '../helpers/pebble';
import { freePort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { unwritableDir } from '../helpers/unprivileged';
import { updateConfig } from '../../main/engine/config/file';
import { homeport, pebbleFlags, reason } from './helpers';

let pebble: Pebble;
const roots = path.join(tmpDir(), 'pebble-root.pem');
before(async () => {
  requireTool('openssl');
  pebble = await startPebble();
  writeFileSync(roots, await pebble.issuingRootPem());
});
after(() => pebble?.stop());

/** openssl verify against Pebble's issuing root, with the stored chain as intermediates. */
function assertChainValid(dir: string) {
  const out = execFileSync('openssl', ['verify', '-CAfile', roots, '-untrusted', path.join(dir, 'chain.pem'), path.join(dir, 'cert.pem')], { encoding: 'utf8' });
  assert.match(out, /: OK/);
  const cert = new X509Certificate(readFileSync(path.join(dir, 'cert.pem')));
  assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(path.join(dir, 'key.pem')))), 'key matches');
  return cert;
}

async function setRenewalMargin(dataDir: string, seconds: number) {
  await updateConfig(dataDir, (c) => ({ ...c, ct: { ...c.ct, renewalMarginSeconds: seconds } }));
}

/**
 * The next order comes from a new account. Pebble reuses a valid authorization now and then
 * even with PEBBLE_AUTHZREUSE=0 (it reuses unless rand.Intn(100) > 0), and an order whose
 * authorization is reused proves nothing: a test that must see a challenge needs no history.
 */
function forgetAccount(dataDir: string) {
  renameSync(path.join(dataDir, 'accounts'), path.join(dataDir, `accounts.before-${Date.now()}`));
}

/** A first certificate is served at once by default (serve-now). */
async function issueActive(dataDir: string, names: string[]) {
  const r = await homeport(['issue', ...names, ...pebbleFlags(pebble), '--data-dir', dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const view = JSON.parse(r.stdout);
  assert.equal(view.state, 'active', r.stdout);
  return view;
}

test('issue --serving hold (http-01 on --http-port) stores a valid certificate that rests until notBefore + margin: CT not required for Pebble', async () => {
  const dataDir = tmpDir();
  const r = await homeport(['issue', 'home.example.test', 'www.example.test', '--challenge', 'http-01', '--serving', 'hold', ...pebbleFlags(pebble), '--data-dir', dataDir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Proving control of home\.example\.test with http-01/, 'progress on stderr');
  assert.match(r.stdout, /home\.example\.test\s+issued; resting until it is ready/);
  const next = path.join(dataDir, 'certs', 'home.example.test', 'next');
  const cert = assertChainValid(next);
  assert.equal(cert.subjectAltName, 'DNS:home.example.test, DNS:www.example.test');
  assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
  assert.equal(statSync(path.join(next, 'key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(dataDir, 'certs')).mode & 0o777, 0o700);
  assert.equal(existsSync(path.join(dataDir, 'certs', 'home.example.test', 'current')), false, 'Pebble does not backdate: it holds');

  const status = await homeport(['status', '--json', '--data-dir', dataDir]);
  assert.equal(status.code, 0, status.stderr);
  const [view] = JSON.parse(status.stdout);
  assert.equal(view.id, 'home.example.test');
  assert.equal(view.state, 'resting');
  assert.deepEqual(view.names, ['home.example.test', 'www.example.test']);
  assert.equal(view.resting.serial, cert.serialNumber.toUpperCase());
  assert.equal(view.resting.ca, pebble.directoryUrl);
  // Pebble's root is no public one: CT does not apply, ready at notBefore + the first-issuance margin (5 s).
  assert.equal(view.readiness.readyAt, Date.parse(cert.validFrom) + 5_000);
  assert.match(view.readiness.reason, /CT not required: private CA/);
  assert.equal(view.active, undefined);
  assert.equal(view.ct.serial.replace(/^0+/, '').toUpperCase(), view.resting.serial.replace(/^0+/, ''));
  assert.equal(view.ct.applicable, false);
  assert.equal(view.ct.readyAt, new Date(Date.parse(cert.validFrom) + 5_000).toISOString());
  assert.deepEqual(view.ct.scts, []);
  assert.ok(['ok', 'unknown'].includes(view.clock.status), JSON.stringify(view.clock));
  const text = await homeport(['status', '--data-dir', dataDir]);
  assert.match(text.stdout, /ct\s+CT not required: private CA/);

  // The CA settings were saved, so later runs need no flags.
  const config = JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8'));
  assert.deepEqual(config.cas, [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }]);
  assert.equal(config.certificates[0].name, 'home.example.test');
});

test('renew --force keeps the old certificate active until the new one is ready', async () => {
  const dataDir = tmpDir();
  const first = await issueActive(dataDir, ['renew.example.test']);
  const current = path.join(dataDir, 'certs', 'renew.example.test', 'current');
  const oldKey = readFileSync(path.join(current, 'key.pem'), 'utf8');
  await setRenewalMargin(dataDir, 2);

  const renewed = await homeport(['renew', '--force', 'renew.example.test', '--data-dir', dataDir, '--json']);
  assert.equal(renewed.code, 0, renewed.stderr);
  const [outcome] = JSON.parse(renewed.stdout);
  assert.equal(outcome.action, 'issued');
  assert.equal(outcome.status.state, 'resting');
  assert.equal(outcome.status.active.serial, first.active.serial, 'the old one is still served');
  assert.notEqual(outcome.status.resting.serial, first.active.serial);
  assert.equal(readFileSync(path.join(current, 'key.pem'), 'utf8'), oldKey);
  assertChainValid(current);

  // Not due and resting: a plain renew waits for readiness (--wait) and activates it.
  const waited = await homeport(['renew', 'renew.example.test', '--wait', '--data-dir', dataDir, '--json']);
  assert.equal(waited.code, 0, waited.stderr);
  const status = JSON.parse((await homeport(['status', 'renew.example.test', '--json', '--data-dir', dataDir])).stdout);
  assert.equal(status.state, 'active');
  assert.equal(status.active.serial, outcome.status.resting.serial);
  assert.equal(assertChainValid(current).serialNumber.toUpperCase(), outcome.status.resting.serial);
  assert.ok(existsSync(path.join(dataDir, 'certs', 'renew.example.test', 'history', first.active.serial, 'cert.pem')));

  // Nothing due now: renew leaves it alone.
  const again = await homeport(['renew', '--data-dir', dataDir, '--json']);
  assert.equal(JSON.parse(again.stdout)[0].action, 'not-due');
});

test('issue with one more name keeps the certificate\'s key type and serving choice: only the names change', async () => {
  const dataDir = tmpDir();
  const first = await homeport(['issue', 'rsa.example.test', '--key-type', 'rsa2048', '--serving', 'hold', ...pebbleFlags(pebble), '--data-dir', dataDir]);
  assert.equal(first.code, 0, first.stderr);
  const grown = await homeport(['issue', 'rsa.example.test', 'www.rsa.example.test', '--data-dir', dataDir, '--json']);
  assert.equal(grown.code, 0, grown.stderr);
  assert.equal(JSON.parse(grown.stdout).state, 'resting', 'still held back until ready');

  const { certificates } = JSON.parse(readFileSync(path.join(dataDir, 'config.json'), 'utf8'));
  assert.deepEqual(certificates, [{ name: 'rsa.example.test', names: ['rsa.example.test', 'www.rsa.example.test'], keyType: 'rsa2048', serving: 'hold' }]);
  const next = path.join(dataDir, 'certs', 'rsa.example.test', 'next');
  const cert = assertChainValid(next);
  assert.equal(cert.subjectAltName, 'DNS:rsa.example.test, DNS:www.rsa.example.test');
  const key = createPrivateKey(readFileSync(path.join(next, 'key.pem')));
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
});

test('export writes PEM files, a PFX openssl reads back, and a zip', async () => {
  requireTool('unzip');
  const dataDir = tmpDir();
  await issueActive(dataDir, ['export.example.test']);
  const out = tmpDir();
  const pem = await homeport(['export', 'export.example.test', '--format', 'pem', '--out', path.join(out, 'pem'), '--data-dir', dataDir]);
  assert.equal(pem.code, 0, pem.stderr);
  assertChainValid(path.join(out, 'pem'));
  const pfx = await homeport(['export', 'export.example.test', '--format', 'pfx', '--out', path.join(out, 'site.pfx'), '--password', 's3cret', '--data-dir', dataDir]);
  assert.equal(pfx.code, 0, pfx.stderr);
  const info = spawnSync('openssl', ['pkcs12', '-in', path.join(out, 'site.pfx'), '-info', '-passin', 'pass:s3cret', '-nodes'], { encoding: 'utf8' });
  assert.equal(info.status, 0, info.stderr);
  assert.equal(createPrivateKey(info.stdout.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)![0]).asymmetricKeyType, 'ec');
  const zip = await homeport(['export', 'export.example.test', '--format', 'zip', '--out', path.join(out, 'site.zip'), '--data-dir', dataDir]);
  assert.equal(zip.code, 0, zip.stderr);
  assert.match(execFileSync('unzip', ['-Z1', path.join(out, 'site.zip')], { encoding: 'utf8' }), /export\.example\.test\/fullchain\.pem/);
  const noPassword = await homeport(['export', 'export.example.test', '--format', 'pfx', '--out', path.join(out, 'x.pfx'), '--data-dir', dataDir]);
  assert.equal(noPassword.code, 1);
  assert.match(reason(noPassword), /A PFX file needs a password\. Fix: Pass --password/);
});

for (const killAt of [/Proving control of/, /Finalizing the order/, /Storing the new certificate/]) {
  test(`SIGKILL during a renewal (at "${killAt.source}"): the active certificate survives and the renewal resumes`, async () => {
    const dataDir = tmpDir();
    const first = await issueActive(dataDir, ['crash.example.test']);
    await setRenewalMargin(dataDir, 2);
    forgetAccount(dataDir);
    const current = path.join(dataDir, 'certs', 'crash.example.test', 'current');
    const before = readFileSync(path.join(current, 'fullchain.pem'), 'utf8');

    let killed = false;
    const r = await homeport(['renew', '--force', '--data-dir', dataDir], {
      onStderr: (text, child) => {
        if (!killed && killAt.test(text)) {
          killed = true;
          child.kill('SIGKILL');
        }
      },
    });
    assert.equal(r.signal, 'SIGKILL', `the renewal was killed mid-way:\n${r.stderr}`);

    // The served certificate and key are intact and valid.
    assert.equal(readFileSync(path.join(current, 'fullchain.pem'), 'utf8'), before);
    assertChainValid(current);
    const status = JSON.parse((await homeport(['status', '--json', '--data-dir', dataDir])).stdout)[0];
    assert.equal(status.active.serial, first.active.serial);

    // The next run takes over the dead process's lock and finishes the renewal.
    const resumed = await homeport(['renew', '--wait', '--data-dir', dataDir, '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const [outcome] = JSON.parse(resumed.stdout);
    // Killed before storing: the renewal is pending and runs again. Killed while or after
    // storing: the stored successor is recovered and activated.
    const after = JSON.parse((await homeport(['status', '--json', '--data-dir', dataDir])).stdout)[0];
    assert.equal(after.state, 'active', JSON.stringify({ outcome, after }));
    assert.notEqual(after.active.serial, first.active.serial, 'renewed');
    assert.equal(after.pending, undefined);
    assert.equal(assertChainValid(current).serialNumber.toUpperCase(), after.active.serial);
    assert.equal(existsSync(path.join(dataDir, 'certs', 'crash.example.test', 'lock')), false);
  });
}

test('invalid names: a plain one-line error, nothing written', async () => {
  const dataDir = tmpDir();
  for (const [name, message] of [
    ['bad..example.test', /"bad\.\.example\.test" is not a valid certificate name: it has an empty label/],
    ['https://example.test/', /without scheme, port or path/],
    ['foo.*.example.test', /a wildcard may only be the whole first label/],
  ] as const) {
    const r = await homeport(['issue', name, ...pebbleFlags(pebble), '--data-dir', dataDir]);
    assert.equal(r.code, 1);
    assert.match(reason(r), message);
  }
  assert.deepEqual(await fs.readdir(dataDir), []);
});

test('port in use for a forced http-01: the error names the port and the fix; the active certificate stays', async () => {
  const dataDir = tmpDir();
  const first = await issueActive(dataDir, ['busy.example.test']);
  forgetAccount(dataDir);
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(pebble.httpPort, resolve));
  try {
    const r = await homeport(['renew', '--force', '--data-dir', dataDir]);
    // Without a forced challenge the engine would fall back to tls-alpn-01; force http-01 to see the error.
    const forced = await homeport(['issue', 'busy.example.test', '--challenge', 'http-01', '--data-dir', dataDir]);
    assert.equal(forced.code, 1);
    assert.match(reason(forced), new RegExp(`Port ${pebble.httpPort} is already in use .* Fix: Stop the program using port ${pebble.httpPort}`));
    assert.equal(r.code, 0, `unforced renewal fell back to tls-alpn-01:\n${r.stderr}`);
    assert.match(r.stderr, /with tls-alpn-01/);
  } finally {
    blocker.close();
  }
  const status = JSON.parse((await homeport(['status', '--json', '--data-dir', dataDir])).stdout)[0];
  assert.ok(status.active, 'still an active certificate');
  assert.equal(status.failure?.code, 'listener.port-in-use');
  assertChainValid(path.join(dataDir, 'certs', 'busy.example.test', 'current'));
  void first;
});

test('unreachable CA directory: one line naming it, the active certificate untouched', async () => {
  const dataDir = tmpDir();
  const first = await issueActive(dataDir, ['offline.example.test']);
  const closed = await freePort();
  const r = await homeport(['renew', '--force', '--ca', `https://127.0.0.1:${closed}/dir`, '--data-dir', dataDir]);
  assert.equal(r.code, 1);
  assert.match(reason(r), new RegExp(`127\\.0\\.0\\.1:${closed}`));
  const status = JSON.parse((await homeport(['status', '--json', '--data-dir', dataDir])).stdout)[0];
  assert.equal(status.state, 'failed');
  assert.equal(status.active.serial, first.active.serial);
  assert.ok(status.failure.retryAt, 'a retry time is set (backoff)');
  // Without --force, a renewal backing off is left alone instead of hammering the CA.
  const again = await homeport(['renew', '--data-dir', dataDir, '--json']);
  assert.equal(JSON.parse(again.stdout)[0].action, 'waiting');
  assertChainValid(path.join(dataDir, 'certs', 'offline.example.test', 'current'));
});

test('an unwritable data directory: a plain one-line error', async () => {
  const { dir, spawnAs } = unwritableDir();
  const r = await homeport(['issue', 'ro.example.test', ...pebbleFlags(pebble), '--data-dir', dir], { spawn: spawnAs });
  assert.equal(r.code, 1);
  assert.match(reason(r), /Homeport cannot write to .* Fix: Make the data directory writable for this user, or choose another one with --data-dir/);
  assert.deepEqual(await fs.readdir(dir), []);
});

test('issue with a public CA blocks a name it would never issue for, before asking it: one line with the fix', async () => {
  const dataDir = tmpDir();
  // --public-ip: no probe service is asked; nothing here leaves this machine.
  const r = await homeport(['issue', 'nas.lan', '--ca', 'letsencrypt', '--email', 'admin@example.test', '--accept-tos', '--public-ip', '203.0.113.7', '--data-dir', dataDir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(reason(r), /^homeport: nas\.lan: nas\.lan ends in \.lan, a name that exists only inside private networks.* Fix: Public CAs only issue for names under a domain you own/);
  const status = JSON.parse((await homeport(['status', 'nas.lan', '--json', '--data-dir', dataDir])).stdout);
  assert.equal(status.state, 'blocked');
  assert.equal(status.failure.code, 'preflight.blocked');
  assert.equal(existsSync(path.join(dataDir, 'accounts')), false, 'no account was created at the CA');
});
