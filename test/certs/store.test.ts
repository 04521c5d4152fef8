import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs, statSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { CertStore, type StoredCert } from '../../main/engine/certs/store';
import { acquireLock } from '../../main/engine/certs/lock';
import { HomeportError } from '../../main/engine/errors';
import { tmpDir } from '../helpers/tmp';
import { unwritableDir } from '../helpers/unprivileged';
import { LocalCa } from './local-ca';

const ca = new LocalCa({ notBefore: () => Date.now() - 3600_000, lifetimeMs: 90 * 86400_000 });
const mode = (p: string) => statSync(p).mode & 0o777;

async function storeWithCurrent() {
  const store = new CertStore(tmpDir());
  const first = await store.writeNext('site', await ca.issue({ names: ['site.test'], keyType: 'rsa2048' }), {
    keyType: 'rsa2048',
    firstIssuance: true,
    now: Date.now(),
  });
  await store.promote('site');
  return { store, first };
}

function assertValid(cert: StoredCert | undefined, serial: string) {
  assert.ok(cert, 'current/ exists');
  assert.equal(cert.meta.serial, serial);
  const x = new X509Certificate(cert.certPem);
  assert.equal(x.serialNumber.toUpperCase(), serial);
  assert.ok(x.checkPrivateKey(createPrivateKey(cert.keyPem)), 'key matches the certificate');
  assert.ok(x.verify(new X509Certificate(cert.chainPem).publicKey), 'chain signs the leaf');
  assert.equal(cert.fullchainPem, cert.certPem + cert.chainPem);
}

test('writes the four PEM files and meta; keys 0600, directories 0700', async () => {
  const { store, first } = await storeWithCurrent();
  const current = await store.read('site', 'current');
  assertValid(current, first.meta.serial);
  assert.deepEqual(current!.meta.names, ['site.test']);
  assert.equal(current!.meta.ca, 'local-test-ca');
  assert.equal(current!.meta.issuer, 'Homeport local test CA');
  assert.equal(mode(path.join(current!.dir, 'key.pem')), 0o600);
  for (const d of [store.root, store.dir('site'), current!.dir, path.join(store.dir('site'), 'history')]) {
    assert.equal(mode(d), 0o700, d);
  }
  assert.equal(await store.read('site', 'next'), undefined);
});

test('promotion moves the previous certificate to history/<serial>', async () => {
  const { store, first } = await storeWithCurrent();
  const second = await store.writeNext('site', await ca.issue({ names: ['site.test'], keyType: 'rsa2048' }), {
    keyType: 'rsa2048',
    firstIssuance: false,
    now: Date.now() + 1000,
  });
  assertValid(await store.read('site', 'current'), first.meta.serial);
  const { previous } = await store.promote('site');
  assert.equal(previous?.serial, first.meta.serial);
  assertValid(await store.read('site', 'current'), second.meta.serial);
  assert.deepEqual((await store.history('site')).map((m) => m.serial), [first.meta.serial]);
  assert.ok(statSync(path.join(store.dir('site'), 'history', first.meta.serial, 'key.pem')));
});

test('a newer resting successor replaces an older one, which goes to history', async () => {
  const { store } = await storeWithCurrent();
  const issue = async (t: number) =>
    store.writeNext('site', await ca.issue({ names: ['site.test'], keyType: 'rsa2048' }), { keyType: 'rsa2048', firstIssuance: false, now: t });
  const a = await issue(Date.now() + 1);
  const b = await issue(Date.now() + 2);
  assert.equal((await store.read('site', 'next'))?.meta.serial, b.meta.serial);
  assert.ok((await store.history('site')).some((m) => m.serial === a.meta.serial));
});

test('a crash between any two promotion steps is recovered with a valid current certificate', async () => {
  const steps = new CertStore(tmpDir()).promoteSteps('x').length;
  for (let k = 0; k <= steps; k++) {
    const { store, first } = await storeWithCurrent();
    const second = await store.writeNext('site', await ca.issue({ names: ['site.test'], keyType: 'rsa2048' }), {
      keyType: 'rsa2048',
      firstIssuance: false,
      now: Date.now() + 1000,
    });
    // A staging directory left by a crash during writeNext, too.
    await fs.mkdir(path.join(store.dir('site'), '.staging-dead'), { mode: 0o700 });
    for (const step of store.promoteSteps('site').slice(0, k)) await step();
    // …SIGKILL here; the next process runs recover() under the lock:
    await store.recover('site');
    const current = await store.read('site', 'current');
    // Before the journal is written nothing happened; once it is, the promotion completes.
    assertValid(current, k === 0 ? first.meta.serial : second.meta.serial);
    if (k === 0) assert.equal((await store.read('site', 'next'))?.meta.serial, second.meta.serial);
    else assert.equal(await store.read('site', 'next'), undefined);
    const left = readdirSync(store.dir('site'));
    assert.ok(!left.some((n) => n.startsWith('.staging-') || n === 'promote.json'), `k=${k}: ${left.join(',')}`);
  }
});

test('an unwritable data directory is a plain error', async () => {
  const { dir, spawnAs } = unwritableDir();
  const script = `
    const { CertStore } = require(${JSON.stringify(require.resolve('../../main/engine/certs/store'))});
    const { LocalCa } = require(${JSON.stringify(require.resolve('./local-ca'))});
    const ca = new LocalCa({ notBefore: () => Date.now(), lifetimeMs: 86400000 });
    ca.issue({ names: ['site.test'], keyType: 'rsa2048' })
      .then((c) => new CertStore(process.argv[1]).writeNext('site', c, { keyType: 'rsa2048', firstIssuance: true, now: 0 }))
      .then(() => console.log('{}'), (e) => console.log(JSON.stringify(e.toJSON ? e.toJSON() : { message: String(e) })));`;
  const out = spawnSync(process.execPath, ['-e', script, dir], { ...spawnAs, encoding: 'utf8' });
  const err = JSON.parse(out.stdout);
  assert.equal(err.code, 'data.unwritable', out.stdout + out.stderr);
  assert.match(err.message, /cannot write/);
  assert.match(err.fix, /--data-dir/);
  assert.deepEqual(readdirSync(dir), []);
});

test('the lock keeps a second process out and is taken over when its holder dies', async () => {
  const dir = tmpDir();
  const lockFile = path.join(dir, 'certs', 'site', 'lock');
  const holder = spawn(
    process.execPath,
    ['-e', `require(${JSON.stringify(require.resolve('../../main/engine/certs/lock'))}).acquireLock(process.argv[1], { what: 'x' }).then(() => { console.log('held'); setInterval(() => {}, 1000); })`, lockFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  await assert.rejects(acquireLock(lockFile, { what: 'certificate "site"' }), (e: HomeportError) => {
    assert.equal(e.code, 'certs.locked');
    assert.match(e.message, new RegExp(`pid ${holder.pid}`));
    assert.match(e.message, /certificate "site"/);
    return true;
  });
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  const lock = await acquireLock(lockFile, { what: 'certificate "site"' });
  assert.equal(JSON.parse(await fs.readFile(lockFile, 'utf8')).pid, process.pid);
  await lock.release();
  await assert.rejects(fs.access(lockFile));
});

test('two takers of one stale lock: exactly one wins', async () => {
  const dir = tmpDir();
  const lockFile = path.join(dir, 'lock');
  // A lock left by a process that no longer exists.
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => dead.once('exit', r));
  await fs.writeFile(lockFile, JSON.stringify({ pid: dead.pid, nonce: 'old', since: '' }));
  const results = await Promise.allSettled([acquireLock(lockFile, { what: 'x' }), acquireLock(lockFile, { what: 'x' })]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.code, 'certs.locked');
});

/** A lock left by a process that no longer exists. */
async function staleLock(lockFile: string): Promise<void> {
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => dead.once('exit', r));
  await fs.writeFile(lockFile, JSON.stringify({ pid: dead.pid, nonce: 'old', since: '' }));
}

test('a takeover guard without an owner yet is left to its creator for the grace, then taken over', async () => {
  const dir = tmpDir();
  const lockFile = path.join(dir, 'lock');
  const guardFile = `${lockFile}.takeover`;
  await staleLock(lockFile);
  // Its creator is between creating the guard and writing its pid.
  await fs.writeFile(guardFile, '');
  let acquired = false;
  const acquiring = acquireLock(lockFile, { what: 'x' }).then((lock) => ((acquired = true), lock));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(acquired, false, 'the stale lock is not taken over under a fresh guard');
  assert.equal(await fs.readFile(guardFile, 'utf8'), '', 'the fresh guard is still there');
  // The same guard, never written for longer than the grace: its creator died.
  const old = new Date(Date.now() - 60_000);
  await fs.utimes(guardFile, old, old);
  const lock = await acquiring;
  assert.equal(JSON.parse(await fs.readFile(lockFile, 'utf8')).pid, process.pid);
  await lock.release();
});

test('a takeover leaves a guard that replaced its own (another nonce) in place', async (t) => {
  const dir = tmpDir();
  const lockFile = path.join(dir, 'lock');
  const guardFile = `${lockFile}.takeover`;
  await staleLock(lockFile);
  const other = JSON.stringify({ pid: process.pid, nonce: 'another-taker', since: '' });
  // While this process removes the stale lock, its guard has been replaced by another taker's.
  const rm = fs.rm.bind(fs);
  t.mock.method(fs, 'rm', async (file: string, opts?: Parameters<typeof fs.rm>[1]) => {
    if (file === lockFile && (await fs.readFile(guardFile, 'utf8')) !== other) {
      await rm(guardFile);
      await fs.writeFile(guardFile, other);
    }
    return rm(file, opts);
  });
  const lock = await acquireLock(lockFile, { what: 'x' });
  assert.equal(await fs.readFile(guardFile, 'utf8'), other, "the other taker's guard is not removed");
  await lock.release();
});

test('a lock whose pid now belongs to another process (reused after a crash or reboot) is stale', { skip: process.platform !== 'linux' && 'start times and boot ids are read from /proc' }, async () => {
  const dir = tmpDir();
  const lockFile = path.join(dir, 'lock');
  // pid 1 is alive, but not the process that wrote these locks.
  for (const stale of [{ start: '1' }, { boot: 'an-earlier-boot' }]) {
    await fs.writeFile(lockFile, JSON.stringify({ pid: 1, nonce: 'old', since: '', ...stale }));
    const lock = await acquireLock(lockFile, { what: 'x' });
    assert.equal(JSON.parse(await fs.readFile(lockFile, 'utf8')).pid, process.pid);
    await lock.release();
  }
  // Without those facts a live pid keeps the lock.
  await fs.writeFile(lockFile, JSON.stringify({ pid: 1, nonce: 'old', since: '' }));
  await assert.rejects(acquireLock(lockFile, { what: 'x' }), /pid 1\b/);
});
