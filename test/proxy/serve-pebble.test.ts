import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { cliPath } from '../helpers/paths';
import { startPebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { echoUpstream, request } from './fixtures';

test('homeport serve issues a missing certificate through its own listeners, then serves the route with it', async () => {
  const pebble = await startPebble();
  after(() => pebble.stop());
  const up = await echoUpstream('site');
  const dataDir = tmpDir();
  writeFileSync(
    path.join(dataDir, 'config.json'),
    JSON.stringify({
      acceptTos: true,
      cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
      certificates: [{ name: 'site', names: ['site.example.test'], challenge: 'http-01', serving: 'serve-now' }],
      ct: { firstIssuanceMarginSeconds: 2, refreshLogList: false },
      routes: [{ host: 'site.example.test', upstreams: [up.url] }],
      proxy: { listen: ['127.0.0.1'] },
    }),
  );
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dataDir, '--http-port', String(pebble.httpPort), '--https-port', String(pebble.tlsPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  after(() => void child.kill('SIGKILL'));
  const root = await pebble.issuingRootPem();

  let issuer = '';
  for (let i = 0; i < 150 && !issuer; i++) {
    await new Promise((r) => setTimeout(r, 200));
    issuer = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: pebble.tlsPort, servername: 'site.example.test', ca: root }, () => {
        resolve(String(s.getPeerCertificate().issuer.CN));
        s.destroy();
      });
      s.on('error', () => resolve(''));
    });
  }
  assert.match(issuer, /Pebble/, out);
  const r = await request(pebble.tlsPort, 'site.example.test', { ca: root, path: '/hello' });
  assert.equal(r.status, 200, out);
  assert.equal(JSON.parse(r.body).url, '/hello');
  assert.match(out, /site: now serving serial/);
  child.kill('SIGTERM');
  assert.equal(await new Promise((res) => child.once('exit', res)), 0, out);
});
