import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, statSync, existsSync } from 'node:fs';
import * as path from 'node:path';
import { cliPath } from '../helpers/paths';
import { freePort, waitForPort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';
import { TestCa, echoUpstream, request } from './fixtures';
import type { ServedCertificate } from '../../main/engine/proxy/cert-source';

function homeport(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Puts a certificate where the store keeps the active one. */
function storeCert(dataDir: string, cert: ServedCertificate, serial: string): void {
  const dir = path.join(dataDir, 'certs', cert.id, 'current');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'cert.pem'), cert.certPem);
  writeFileSync(path.join(dir, 'chain.pem'), cert.chainPem);
  writeFileSync(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ serial }));
}

test('route add / list / remove edit config.json with clear errors', async () => {
  const dataDir = tmpDir();
  const dd = ['--data-dir', dataDir];
  const add = await homeport(['route', 'add', 'Photos.Example.com', 'http://127.0.0.1:2342', 'http://127.0.0.1:2343', ...dd]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /Added route photos\.example\.com → http:\/\/127\.0\.0\.1:2342, http:\/\/127\.0\.0\.1:2343/);
  const auth = await homeport(['route', 'add', 'grafana.example.com', 'http://127.0.0.1:3000', '--path', '/g/', '--strip-prefix', '--auth', 'ann:pw1', '--allow', '192.168.1.0/24', '--hsts', '--no-redirect', ...dd]);
  assert.equal(auth.code, 0, auth.stderr);
  const config = readFileSync(path.join(dataDir, 'config.json'), 'utf8');
  assert.ok(!config.includes('pw1'), 'the password is not stored');
  assert.equal(statSync(path.join(dataDir, 'config.json')).mode & 0o777, 0o600);

  const bad = await homeport(['route', 'add', 'x.example.com', 'ftp://nope', ...dd]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /only http:\/\/, https:\/\/ and unix:\/path upstreams/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line of reason');
  const badHost = await homeport(['route', 'add', 'https://x.example.com', 'http://127.0.0.1:1', ...dd]);
  assert.match(badHost.stderr, /without a scheme/);

  const list = await homeport(['route', 'list', '--json', ...dd]);
  const routes = JSON.parse(list.stdout).routes;
  assert.equal(routes.length, 2);
  const g = routes.find((r: { host: string }) => r.host === 'grafana.example.com');
  assert.equal(g.pathPrefix, '/g');
  assert.equal(g.redirectHttp, false);
  assert.match(g.basicAuth.users[0].hash, /^scrypt\$/);
  const text = await homeport(['route', 'list', ...dd]);
  assert.match(text.stdout, /grafana\.example\.com\/g → http:\/\/127\.0\.0\.1:3000 {2}\[strip prefix; also on http; HSTS; sign-in \(ann\); only 192\.168\.1\.0\/24\]/);

  const missing = await homeport(['route', 'remove', 'nope.example.com', ...dd]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no route for nope\.example\.com/);
  const removed = await homeport(['route', 'remove', 'photos.example.com', ...dd]);
  assert.equal(removed.code, 0);
  assert.equal(JSON.parse((await homeport(['route', 'list', '--json', ...dd])).stdout).routes.length, 1);
});

test('homeport serve proxies the configured routes, reloads routes and picks up renewed certificates', async () => {
  const ca = new TestCa();
  const up = await echoUpstream('one');
  const up2 = await echoUpstream('two');
  const dataDir = tmpDir();
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ ct: { refreshLogList: false }, proxy: { listen: ['127.0.0.1'], certificatePollMs: 200 } }));
  storeCert(dataDir, ca.issue('site', ['site.test', 'other.test']), '01');
  assert.equal((await homeport(['route', 'add', 'site.test', up.url, '--data-dir', dataDir])).code, 0);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dataDir, '--http-port', String(httpPort), '--https-port', String(httpsPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  after(() => void child.kill('SIGKILL'));
  await waitForPort(httpsPort);

  const r = await request(httpsPort, 'site.test', { ca: ca.caPem, path: '/hi' });
  assert.equal(r.status, 200, out);
  assert.equal(JSON.parse(r.body).name, 'one');
  assert.equal((await request(httpPort, 'site.test', { tls: false })).status, 301);

  // A route added from another terminal applies without a restart.
  assert.equal((await homeport(['route', 'add', 'other.test', up2.url, '--data-dir', dataDir])).code, 0);
  let other = { status: 0, body: '' };
  for (let i = 0; i < 50 && other.status !== 200; i++) {
    await new Promise((res) => setTimeout(res, 100));
    other = await request(httpsPort, 'other.test', { ca: ca.caPem });
  }
  assert.equal(other.status, 200, out);
  assert.equal(JSON.parse(other.body).name, 'two');

  // A renewal written to the store by another process is served to new handshakes.
  const renewed = ca.issue('site', ['site.test', 'other.test']);
  storeCert(dataDir, renewed, '02');
  const { X509Certificate } = await import('node:crypto');
  const want = new X509Certificate(renewed.certPem).serialNumber.toUpperCase();
  let got = '';
  for (let i = 0; i < 50 && got !== want; i++) {
    await new Promise((res) => setTimeout(res, 100));
    got = await new Promise<string>((resolve, reject) => {
      const tls = require('node:tls') as typeof import('node:tls');
      const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'site.test', ca: ca.caPem }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase());
        s.destroy();
      });
      s.on('error', reject);
    });
  }
  assert.equal(got, want, out);

  child.kill('SIGTERM');
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  assert.equal(code, 0, out);
  const log = readFileSync(path.join(dataDir, 'logs', 'access.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(log.some((e) => e.host === 'site.test' && e.path === '/hi' && e.status === 200 && e.route === 'site.test'));
  assert.ok(existsSync(path.join(dataDir, 'logs')));
});
