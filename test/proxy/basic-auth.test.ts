import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { BasicAuth, KeyDerivations, hashPassword, scryptKey, type Derive } from '../../main/engine/proxy/basic-auth';

let hash: string;
before(async () => {
  hash = await hashPassword('s3cret');
});

const header = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Real scrypt, counted: how many derivations ran, and the most at once. */
function counted(maxRunning = 2, maxWaiting = 16) {
  const seen = { total: 0, running: 0, peak: 0 };
  const derive: Derive = async (...args) => {
    seen.total++;
    seen.peak = Math.max(seen.peak, ++seen.running);
    try {
      return await scryptKey(...args);
    } finally {
      seen.running--;
    }
  };
  const auth = new BasicAuth({ realm: 'Home', users: [{ name: 'ann', hash }] }, new KeyDerivations(maxRunning, maxWaiting, derive));
  return { auth, seen };
}

test('basic auth: an unknown user costs the same key derivation as a wrong password', async () => {
  const { auth, seen } = counted();
  assert.equal(await auth.check(header('ann', 'wrong')), undefined);
  assert.equal(seen.total, 1);
  assert.equal(await auth.check(header('bob', 's3cret')), undefined, 'a name nobody has is refused');
  assert.equal(seen.total, 2, 'and still runs a derivation, so its answer takes as long');
  assert.equal(await auth.check(header('bob', '')), undefined);
  assert.equal(seen.total, 3);
  assert.equal(await auth.check('Basic bm9jb2xvbg=='), undefined, 'no colon: nothing to check');
  assert.equal(seen.total, 3);
});

test('basic auth: an accepted credential is cached; parallel requests with a new one share a derivation', async () => {
  const { auth, seen } = counted();
  const all = await Promise.all(Array.from({ length: 50 }, () => auth.check(header('ann', 's3cret'))));
  assert.deepEqual(new Set(all), new Set(['ann']));
  assert.equal(seen.total, 1, 'fifty assets requested at once, before the credential is cached: one scrypt');
  for (let i = 0; i < 10; i++) assert.equal(await auth.check(header('ann', 's3cret')), 'ann');
  assert.equal(seen.total, 1, 'then the cache answers');
});

test('basic auth: at most two derivations at once; past the queue a guess is refused untried', async () => {
  const { auth, seen } = counted(2, 16);
  const flood = Array.from({ length: 20 }, (_, i) => auth.check(header(i % 2 ? 'ann' : 'bob', `guess-${i}`)));
  assert.deepEqual(await Promise.all(flood), Array(20).fill(undefined));
  assert.equal(seen.peak, 2);
  assert.equal(seen.total, 18, '2 running and 16 waiting were tried; the last 2 were refused at once');
});

test('basic auth: the right password works while a flood is queued, and the signed-in keep working when the queue is full', async () => {
  const { auth, seen } = counted(2, 16);
  assert.equal(await auth.check(header('ann', 's3cret')), 'ann');
  const flood = Array.from({ length: 10 }, (_, i) => auth.check(header('ann', `guess-${i}`)));
  // The same credential with the scheme spelled otherwise: another header, so not cached.
  const late = header('ann', 's3cret').replace('Basic', 'basic');
  assert.equal(await auth.check(late), 'ann', 'a correct sign-in queued behind ten guesses still succeeds');
  const full = Array.from({ length: 18 }, (_, i) => auth.check(header('bob', `guess-${i}`)));
  const tried = seen.total;
  assert.equal(await auth.check(header('ann', 'one-more')), undefined, 'the queue is full: refused at once');
  assert.equal(await auth.check(header('ann', 's3cret')), 'ann', 'a cached credential skips the queue');
  assert.equal(seen.total, tried);
  await Promise.all([...flood, ...full]);
  assert.equal(seen.peak, 2);
});
