import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPebble, PEBBLE_EAB_KEYS, type Pebble } from '../helpers/pebble';
import { freePort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';
import { makeTlsCa } from './fake-ca';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { startChallengeListeners } from '../../main/engine/acme/challenge-listeners';
import { ChallengeStore } from '../../main/engine/acme/challenges';
import { resolveCa } from '../../main/engine/acme/cas';
import type { HomeportError } from '../../main/engine/errors';
import type { CaSpec } from '../../main/engine/acme/cas';

// Every way the input can be wrong ends in one clear HomeportError, at once (acme-client
// would retry an untrusted directory for ~75 s and end in a TypeError).
let pebble: Pebble;
let scratch: string;

before(async () => {
  pebble = await startPebble({ eabKeys: PEBBLE_EAB_KEYS });
  scratch = mkdtempSync(path.join(os.tmpdir(), 'homeport-bad-'));
});
after(async () => {
  await pebble?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function issueError(spec: CaSpec, names = ['bad.example.test']): Promise<HomeportError> {
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [spec], acceptTos: true });
  try {
    await issuer.issue({ names, keyType: 'ec256' });
  } catch (e) {
    return e as HomeportError;
  } finally {
    issuer.close();
  }
  throw new Error('issued although it should not');
}

test('unreachable directory', async () => {
  const e = await issueError({ ca: `https://127.0.0.1:${await freePort()}/dir` });
  assert.equal(e.code, 'acme.unreachable');
  assert.match(e.message, /cannot be reached: the connection was refused/);
  assert.ok(e.fix);
});

test('a URL that is not an ACME directory', async () => {
  const e = await issueError({ ca: pebble.directoryUrl.replace(/\/dir$/, '/nope'), caRoot: pebble.caRootFile });
  assert.equal(e.code, 'acme.not-a-directory');
  assert.match(e.message, /HTTP 404/);
});

test('a private CA without its root, or with the wrong root: untrusted, with the --ca-root fix', async () => {
  const none = await issueError({ ca: pebble.directoryUrl });
  assert.equal(none.code, 'acme.directory-untrusted');
  assert.match(none.fix!, /--ca-root/);
  const wrong = await issueError({ ca: pebble.directoryUrl, caRoot: makeTlsCa(scratch).caFile });
  assert.equal(wrong.code, 'acme.directory-untrusted');
});

test('a CA bundle that is not PEM, damaged, or missing', async () => {
  const notPem = path.join(scratch, 'not.pem');
  writeFileSync(notPem, 'hello, I am not a certificate\n');
  assert.equal((await issueError({ ca: pebble.directoryUrl, caRoot: notPem })).code, 'acme.ca-root-invalid');
  const damaged = path.join(scratch, 'damaged.pem');
  writeFileSync(damaged, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  assert.equal((await issueError({ ca: pebble.directoryUrl, caRoot: damaged })).code, 'acme.ca-root-invalid');
  const missing = await issueError({ ca: pebble.directoryUrl, caRoot: path.join(scratch, 'nothing.pem') });
  assert.equal(missing.code, 'acme.ca-root-unreadable');
  assert.match(missing.message, /nothing\.pem/);
});

test('unknown presets and plain-http directories are refused with the list of presets', () => {
  assert.throws(() => resolveCa({ ca: 'letsencrpyt' }), (e: HomeportError) => e.code === 'config.unknown-ca' && /letsencrypt, letsencrypt-staging, zerossl, google, buypass/.test(e.fix!));
  assert.throws(() => resolveCa({ ca: 'http://127.0.0.1/dir' }), { code: 'config.unknown-ca' });
  assert.equal(resolveCa({ ca: 'https://acme-v02.api.letsencrypt.org/directory' }).id, 'letsencrypt', 'a preset\'s URL is that preset');
  assert.deepEqual(resolveCa({ ca: 'google' }).caaIdentities, ['pki.goog']);
  assert.equal(resolveCa({ ca: 'zerossl' }).eabRequired, true);
});

test('invalid names fail before anything is sent', async () => {
  const e = await issueError({ ca: `https://127.0.0.1:${await freePort()}/dir` }, ['bad name.example.test']);
  assert.equal(e.code, 'config.invalid-name');
});

test('External Account Binding: required → clear error without it, issues with it', async () => {
  const missing = await issueError({ ca: pebble.directoryUrl, caRoot: pebble.caRootFile });
  assert.equal(missing.code, 'acme.eab-required');
  assert.match(missing.fix!, /--eab-kid and --eab-hmac-key/);
  const issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile, eab: { kid: 'kid-1', hmacKey: PEBBLE_EAB_KEYS['kid-1'] } }],
    acceptTos: true,
  });
  const listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, host: '127.0.0.1' });
  try {
    const cert = await issuer.issue({ names: ['eab.example.test'], keyType: 'ec256' });
    assert.match(cert.certPem, /BEGIN CERTIFICATE/);
  } finally {
    issuer.close();
    await listeners.close();
  }
});

test('a challenge port already in use: the error names the port and the fix', async () => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    await assert.rejects(startChallengeListeners({ store: new ChallengeStore(), httpPort: port, host: '127.0.0.1' }), (e: HomeportError) => {
      assert.equal(e.code, 'listener.port-in-use');
      assert.match(e.message, new RegExp(`Port ${port} is already in use`));
      assert.match(e.fix!, /--http-port/);
      return true;
    });
    // The HTTPS listener fails the same way and the HTTP one it already opened is closed again.
    const httpPort = await freePort();
    await assert.rejects(startChallengeListeners({ store: new ChallengeStore(), httpPort, httpsPort: port, host: '127.0.0.1' }), { code: 'listener.port-in-use' });
    const again = await startChallengeListeners({ store: new ChallengeStore(), httpPort, host: '127.0.0.1' });
    await again.close();
  } finally {
    busy.close();
  }
});

test('the http-01 listener answers pending tokens only', async () => {
  const store = new ChallengeStore();
  store.setHttp01('tok', 'tok.thumb');
  // No host: every address, IPv4 included.
  const l = await startChallengeListeners({ store, httpPort: 0 });
  const get = (p: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: l.httpPort, path: p }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
  try {
    assert.deepEqual(await get('/.well-known/acme-challenge/tok'), { status: 200, body: 'tok.thumb' });
    assert.equal((await get('/.well-known/acme-challenge/other')).status, 404);
    assert.equal((await get('/')).status, 404);
    store.deleteHttp01('tok');
    assert.equal((await get('/.well-known/acme-challenge/tok')).status, 404);
  } finally {
    await l.close();
  }
});
