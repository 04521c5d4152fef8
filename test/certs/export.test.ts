import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs, chmodSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { createSecureContext } from 'node:tls';
import { generateKeyPairSync, X509Certificate, createPrivateKey } from 'node:crypto';
import { exportCertificate, type ExportSource } from '../../main/engine/certs/export';
import { HomeportError } from '../../main/engine/errors';
import { requireTool } from '../helpers/tools';
import { repoRoot } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';
import { unwritableDir } from '../helpers/unprivileged';
import { LocalCa } from './local-ca';

/** stdout and stderr together (pkcs12 -info reports the MAC and bag types on stderr); throws on failure. */
function openssl(args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  return r.stdout + r.stderr;
}

/** An EC P-256 (or P-384) leaf signed by an openssl CA: what an ACME CA gives by default. */
function ecCertificate(curve: 'P-256' | 'P-384'): ExportSource {
  requireTool('openssl');
  const dir = tmpDir();
  const f = (n: string) => path.join(dir, n);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Export test CA']);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve === 'P-256' ? 'prime256v1' : 'secp384r1' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(f('leaf.key'), keyPem);
  openssl(['req', '-new', '-key', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=site.test']);
  openssl(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '1']);
  const certPem = readFileSync(f('leaf.pem'), 'utf8');
  const chainPem = readFileSync(f('ca.pem'), 'utf8');
  return { id: 'site.test', certPem, chainPem, fullchainPem: certPem + chainPem, keyPem };
}

async function rsaCertificate(): Promise<ExportSource> {
  const ca = new LocalCa({ notBefore: () => Date.now(), lifetimeMs: 86400_000 });
  const c = await ca.issue({ names: ['site.test'], keyType: 'rsa2048' });
  return { id: 'site.test', certPem: c.certPem, chainPem: c.chainPem, fullchainPem: c.certPem + c.chainPem, keyPem: c.keyPem };
}

test('PEM export writes cert, chain, full chain and key (key 0600)', async () => {
  const src = ecCertificate('P-256');
  const out = path.join(tmpDir(), 'pem');
  const files = await exportCertificate(src, { format: 'pem', out });
  assert.deepEqual(files.map((f) => path.basename(f)).sort(), ['cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem']);
  const read = (n: string) => readFileSync(path.join(out, n), 'utf8');
  assert.equal(new X509Certificate(read('cert.pem')).subject, 'CN=site.test');
  assert.equal(new X509Certificate(read('chain.pem')).subject, 'CN=Export test CA');
  assert.equal(read('fullchain.pem'), read('cert.pem') + read('chain.pem'));
  assert.ok(new X509Certificate(read('cert.pem')).checkPrivateKey(createPrivateKey(read('key.pem'))));
  assert.equal(statSync(path.join(out, 'key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(out).mode & 0o777, 0o700);
});

for (const [label, make] of [
  ['EC P-256', async () => ecCertificate('P-256')],
  ['EC P-384', async () => ecCertificate('P-384')],
  ['RSA 2048', rsaCertificate],
] as const) {
  test(`PFX with an ${label} key: openssl pkcs12 reads it back with the password`, async () => {
    const src = await make();
    const out = path.join(tmpDir(), 'site.pfx');
    await exportCertificate(src, { format: 'pfx', out, password: 'correct horse' });
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const info = openssl(['pkcs12', '-in', out, '-info', '-passin', 'pass:correct horse', '-nodes']);
    assert.match(info, /MAC: sha256/);
    assert.match(info, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    assert.match(info, /friendlyName: site\.test/);
    const key = createPrivateKey(info.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)![0]);
    assert.equal(key.asymmetricKeyType, label.startsWith('EC') ? 'ec' : 'rsa');
    const certs = info.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    assert.equal(certs.length, 2, 'leaf and chain');
    assert.ok(new X509Certificate(certs[0]!).checkPrivateKey(key));
    assert.equal(new X509Certificate(certs[0]!).fingerprint256, new X509Certificate(src.certPem).fingerprint256);
    // Node's TLS (OpenSSL) loads it as a server identity too.
    createSecureContext({ pfx: await fs.readFile(out), passphrase: 'correct horse' });
    assert.throws(() => openssl(['pkcs12', '-in', out, '-info', '-passin', 'pass:wrong', '-nodes']), /invalid password|mac verify/i);
  });
}

test('PFX needs a password', async () => {
  await assert.rejects(
    exportCertificate(ecCertificate('P-256'), { format: 'pfx', out: path.join(tmpDir(), 'x.pfx') }),
    (e: HomeportError) => e.code === 'export.no-password' && /--password/.test(e.fix ?? ''),
  );
});

test('zip holds the four PEM files, and the PFX when a password is given', async () => {
  requireTool('unzip');
  const src = ecCertificate('P-256');
  const dir = tmpDir();
  const out = path.join(dir, 'site.zip');
  await exportCertificate(src, { format: 'zip', out, password: 'pw' });
  assert.equal(statSync(out).mode & 0o777, 0o600);
  const listing = execFileSync('unzip', ['-Z1', out], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(listing, ['site.test/cert.pem', 'site.test/chain.pem', 'site.test/fullchain.pem', 'site.test/key.pem', 'site.test/site.test.pfx']);
  execFileSync('unzip', ['-q', out, '-d', path.join(dir, 'x')]);
  assert.equal(readFileSync(path.join(dir, 'x', 'site.test', 'key.pem'), 'utf8'), src.keyPem);
  assert.equal(readFileSync(path.join(dir, 'x', 'site.test', 'fullchain.pem'), 'utf8'), src.fullchainPem);
  assert.match(openssl(['pkcs12', '-in', path.join(dir, 'x', 'site.test', 'site.test.pfx'), '-info', '-passin', 'pass:pw', '-nodes']), /BEGIN PRIVATE KEY/);

  const noPfx = path.join(dir, 'nopfx.zip');
  await exportCertificate(src, { format: 'zip', out: noPfx });
  assert.equal(execFileSync('unzip', ['-Z1', noPfx], { encoding: 'utf8' }).trim().split('\n').length, 4);
});

// --out is the user's own path: its errors name it and ask for another --out, never another
// --data-dir, and never show the temporary file written next to it.
test('a file in the way of --out: the error says so and asks for another --out path', async () => {
  const src = ecCertificate('P-256');
  const file = path.join(tmpDir(), 'taken');
  writeFileSync(file, 'not a directory');
  for (const req of [
    { format: 'pem' as const, out: file },
    { format: 'pfx' as const, out: path.join(file, 'site.pfx'), password: 'pw' },
  ]) {
    await assert.rejects(exportCertificate(src, req), (e: HomeportError) => {
      assert.equal(e.code, 'export.in-the-way');
      assert.equal(e.toLine(), `Cannot write ${req.out}: a file stands where a directory is needed. Fix: Choose another --out path, or move that file away.`);
      return true;
    });
  }
});

test('--out where no file can be created: a plain message naming it, without the temporary file', { skip: process.platform !== 'linux' && 'needs /proc' }, async () => {
  await assert.rejects(exportCertificate(ecCertificate('P-256'), { format: 'pfx', out: '/proc/site.pfx', password: 'pw' }), (e: HomeportError) => {
    assert.equal(e.toLine(), 'Cannot create /proc/site.pfx (ENOENT). Fix: Choose another --out path, e.g. in your home directory.');
    return true;
  });
});

test('--out in a directory this user may not write: a plain message with the fix', async () => {
  // Root ignores file modes: under root (CI) the export runs as nobody, for real.
  const { dir, spawnAs } = unwritableDir();
  const out = path.join(dir, 'site.zip');
  const source = path.join(tmpDir(), 'source.json');
  writeFileSync(source, JSON.stringify(ecCertificate('P-256')));
  chmodSync(path.dirname(source), 0o755);
  const script = `require(${JSON.stringify(path.join(repoRoot, 'dist', 'main', 'engine', 'certs', 'export.js'))})
    .exportCertificate(JSON.parse(require('fs').readFileSync(${JSON.stringify(source)}, 'utf8')), { format: 'zip', out: ${JSON.stringify(out)} })
    .then(() => console.log('written'), (e) => console.log(e.toLine()));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...spawnAs });
  assert.equal(r.stdout.trim(), `This user may not write ${out}. Fix: Choose another --out path, e.g. in your home directory.`, r.stderr);
});
