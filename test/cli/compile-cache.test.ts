import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { tmpDir } from '../helpers/tmp';
import { homeport } from './helpers';

// The CLI's compile cache (main/cli/compile-cache.ts): kept in the user's cache directory,
// private to the user, reused without being rewritten, and never changing what a command does.
const cacheFile = (xdg: string) => {
  const dir = path.join(xdg, 'homeport', 'compile-cache');
  const files = existsSync(dir) ? readdirSync(dir) : [];
  return { dir, files, file: files[0] && path.join(dir, files[0]) };
};

/** A command that loads the engine, zod and a module with a dynamic import(), and ends in a plain error. */
const unreachableCheck = ['check', 'www.example.com', '--resolver', '127.0.0.1:1', '--public-ip', '192.0.2.1', '--json'];

test('a second run reuses the compiled code without rewriting it, and behaves exactly like the first', async () => {
  const xdg = tmpDir();
  const env = { XDG_CACHE_HOME: xdg };
  const first = await homeport(unreachableCheck, { env });
  const written = cacheFile(xdg);
  assert.equal(written.files.length, 1, `one cache file: ${written.files.join(', ')}`);
  assert.equal(statSync(written.dir).mode & 0o777, 0o700);
  assert.equal(statSync(written.file!).mode & 0o777, 0o600);
  const before = statSync(written.file!);

  const second = await homeport(unreachableCheck, { env });
  assert.equal(second.code, first.code);
  assert.equal(second.code, 2);
  assert.equal(JSON.parse(second.stdout).error.code, 'preflight.dns-unreachable');
  assert.equal(second.stdout, first.stdout);
  assert.equal(second.stderr, first.stderr, 'no warning or stack appears');
  const after = statSync(written.file!);
  assert.equal(after.mtimeMs, before.mtimeMs, 'nothing new was compiled, so nothing was written');
  assert.equal(after.ino, before.ino);
});

test('a cache directory others may write to is not used, and HOMEPORT_NO_COMPILE_CACHE turns it off', async () => {
  const xdg = tmpDir();
  const shared = path.join(xdg, 'homeport', 'compile-cache');
  await homeport(['--help'], { env: { XDG_CACHE_HOME: xdg } });
  const { file } = cacheFile(xdg);
  const before = statSync(file!).mtimeMs;
  chmodSync(shared, 0o777);
  const r = await homeport(unreachableCheck, { env: { XDG_CACHE_HOME: xdg } });
  assert.equal(r.code, 2);
  assert.equal(statSync(file!).mtimeMs, before, 'not read, not written');

  const off = tmpDir();
  assert.equal((await homeport(['--help'], { env: { XDG_CACHE_HOME: off, HOMEPORT_NO_COMPILE_CACHE: '1' } })).code, 0);
  assert.deepEqual(cacheFile(off).files, []);
});
