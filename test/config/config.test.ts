import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { configPath, loadConfig, parseConfig, saveConfig, updateConfig } from '../../main/engine/config/file';
import { HomeportError } from '../../main/engine/errors';
import { RouteSchema } from '../../main/engine/config/routes';
import { tmpDir } from '../helpers/tmp';

test('a missing config file means defaults, and nothing is written', async () => {
  const dir = tmpDir();
  const config = await loadConfig(dir);
  assert.equal(config.version, 1);
  assert.deepEqual(config.cas, [{ ca: 'letsencrypt' }]);
  assert.deepEqual(config.listeners, { httpPort: 80, httpsPort: 443 });
  assert.deepEqual(config.certificates, []);
  assert.deepEqual(config.ct, { firstIssuanceMarginSeconds: 5, renewalMarginSeconds: 3600, strictInclusion: false, refreshLogList: true });
  await assert.rejects(fs.access(configPath(dir)));
});

test('saving writes 0600 JSON atomically and keeps keys this version does not know', async () => {
  const dir = tmpDir();
  await fs.writeFile(configPath(dir), JSON.stringify({ email: 'me@example.com', futureFeature: { on: true } }));
  const config = await loadConfig(dir);
  config.certificates.push(parseConfig({ certificates: [{ name: 'home.example.com', names: ['home.example.com'] }] }).certificates[0]!);
  await saveConfig(dir, config);
  const saved = JSON.parse(await fs.readFile(configPath(dir), 'utf8'));
  assert.deepEqual(saved.futureFeature, { on: true });
  assert.equal(saved.version, 1, 'a file from before versioning is version 1');
  assert.equal(saved.certificates[0].keyType, 'ec256');
  assert.equal(saved.certificates[0].serving, undefined, 'no serving choice: the defaults (serve now when first, hold renewals)');
  assert.equal(statSync(configPath(dir)).mode & 0o777, 0o600);
  assert.deepEqual((await fs.readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
});

test('invalid fields are named with what to put there', () => {
  const cases: [unknown, RegExp][] = [
    [{ certificates: [{ name: 'a', names: ['a.example'], keyType: 'ec521' }] }, /certificates\[0\]\.keyType "ec521" is not a key type; use one of ec256, ec384, rsa2048, rsa3072, rsa4096/],
    [{ certificates: [{ name: 'A B', names: ['a.example'] }] }, /certificates\[0\]\.name must be lower-case letters/],
    [{ certificates: [{ name: 'a', names: [] }] }, /certificates\[0\]\.names needs at least one DNS name/],
    [{ email: 'not-an-address' }, /email must be an e-mail address/],
    [{ resolver: '127.0.0.1' }, /resolver must be host:port/],
    [{ resolver: '127.0.0.1:99999' }, /resolver must be host:port with a port from 1 to 65535/],
    [{ cas: [{ ca: 'letsencrpyt' }] }, /cas\[0\]\.ca "letsencrpyt" is neither a known CA nor a URL\. Use one of letsencrypt, .* ACME directory\.$/],
    [{ cas: [{ ca: 'letsencrypt' }, { ca: 'http://ca.example/dir' }] }, /cas\[1\]\.ca The CA directory http:\/\/ca\.example\/dir is not an https URL/],
    [{ listeners: { httpPort: 70000 } }, /listeners\.httpPort/],
    [{ certificates: [{ name: 'a', names: ['a.example'], serving: 'sometimes' }] }, /serving must be "hold", "serve-now" or \{"holdHandshakeSeconds": 1\.\.120\}/],
    [{ ct: { firstIssuanceMarginSeconds: 1 } }, /ct\.firstIssuanceMarginSeconds must be at least 2 seconds/],
    [{ publicIps: ['not-an-ip'] }, /publicIps\[0\] must be an IPv4 or IPv6 address/],
    [{ certificates: [{ name: 'a', names: ['a.example'], challenge: 'http-02' }] }, /"http-02" is not a challenge type/],
  ];
  for (const [raw, message] of cases) {
    assert.throws(() => parseConfig(raw, 'config.json'), (e: HomeportError) => {
      assert.equal(e.code, 'config.invalid');
      assert.match(e.message, message);
      assert.match(e.fix ?? '', /^Correct .* in config\.json\.$/);
      return true;
    });
  }
});

test('a broken file is reported and left alone', async () => {
  const dir = tmpDir();
  await fs.writeFile(configPath(dir), '{ "email": "me@example.com", ');
  await assert.rejects(loadConfig(dir), (e: HomeportError) => e.code === 'config.not-json' && /not valid JSON/.test(e.message) && /move the file away/.test(e.fix ?? ''));
  await assert.rejects(updateConfig(dir, () => undefined), (e: HomeportError) => e.code === 'config.not-json');
  assert.equal(await fs.readFile(configPath(dir), 'utf8'), '{ "email": "me@example.com", ');
});

test('a file from a newer Homeport is not overwritten', async () => {
  const dir = tmpDir();
  await fs.writeFile(configPath(dir), JSON.stringify({ version: 9 }));
  await assert.rejects(updateConfig(dir, () => undefined), (e: HomeportError) => e.code === 'config.newer' && /Update Homeport/.test(e.fix ?? ''));
  assert.equal(await fs.readFile(configPath(dir), 'utf8'), JSON.stringify({ version: 9 }));
});

test('concurrent updates all land (read-modify-write under the config lock)', async () => {
  const dir = tmpDir();
  await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      updateConfig(dir, (c) => ({ ...c, routes: [...c.routes, RouteSchema.parse({ host: `h${i}.example.com`, upstreams: [`http://127.0.0.1:${8000 + i}`] })] })),
    ),
  );
  const config = await loadConfig(dir);
  assert.equal(config.routes.length, 8);
  assert.deepEqual(new Set(config.routes.map((r) => r.host)).size, 8);
  await assert.rejects(fs.access(path.join(dir, 'config.lock')));
});
