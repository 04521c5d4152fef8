import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ManualClock, systemClock } from '../../main/engine/clock';
import { RateLimitLedger, registeredDomain } from '../../main/engine/preflight/rate-limits';
import { checkRateLimits } from '../../main/engine/preflight/rate-limit-check';
import { tmpDir } from '../helpers/tmp';

// The ledger meters Let's Encrypt's published limits as token buckets, driven by a ManualClock.
const HOUR = 3600_000;
const ACCOUNT = 'https://acme-v02.api.letsencrypt.org/acme/acct/1';
const start = Date.UTC(2026, 0, 5, 12);

async function ledger(clock: ManualClock, file = path.join(tmpDir(), 'rate-limits.json')) {
  return { file, l: await RateLimitLedger.open(file, clock) };
}

test('registered domains follow the public suffix list, private section included', () => {
  assert.equal(registeredDomain('www.example.co.uk'), 'example.co.uk');
  assert.equal(registeredDomain('*.a.b.example.com'), 'example.com');
  assert.equal(registeredDomain('me.duckdns.org'), 'me.duckdns.org');
});

test('duplicate certificates: warns at the last one, blocks at five with a countdown, refills one per 33.6 h', async () => {
  const clock = new ManualClock(start);
  const { l } = await ledger(clock);
  const req = { ca: 'letsencrypt', account: ACCOUNT, names: ['www.example.com', 'example.com'] };
  for (let i = 0; i < 4; i++) {
    assert.equal(l.assess(req).status, 'ok', `certificate ${i + 1}`);
    await l.recordCertificate(req);
    clock.advance(60_000);
  }
  const warn = l.assess(req);
  assert.equal(warn.status, 'warn');
  assert.match(warn.findings.find((f) => f.limit === 'duplicate-certs')!.message, /^1 of 5 certificates for exactly the same names per 7 d left for example\.com, www\.example\.com\.$/);
  await l.recordCertificate({ ...req, names: ['example.com', 'WWW.example.com'] });
  const blocked = l.assess(req);
  assert.equal(blocked.status, 'blocked');
  // Five spent 4 min apart: the first unit comes back 7 d / 5 after the first, i.e. 33 h 36 min after `start`.
  assert.equal(blocked.retryAt, start + (7 * 24 * HOUR) / 5);
  const check = checkRateLimits(l, { ca: 'letsencrypt', caName: "Let's Encrypt", account: ACCOUNT, names: req.names })('www.example.com');
  assert.equal(check.status, 'fail');
  assert.match(check.summary, /The limit of 5 certificates for exactly the same names per 7 d is reached for example\.com, www\.example\.com: the next one is possible in 1 d 9 h \(at 2026-01-06T21:36:00\.000Z\)\./);
  assert.match(check.fix ?? '', /^Wait 1 d 9 h \(until 2026-01-06T21:36:00\.000Z\)/);
  clock.set(blocked.retryAt!);
  assert.notEqual(l.assess(req).status, 'blocked');
  // A different name set is a different bucket.
  assert.equal(l.assess({ ...req, names: ['www.example.com'] }).findings.find((f) => f.limit === 'duplicate-certs')!.remaining, 5);
});

test('certificates per registered domain count every name set under the domain; renewals are exempt', async () => {
  const clock = new ManualClock(start);
  const { l } = await ledger(clock);
  for (let i = 0; i < 50; i++) await l.recordCertificate({ ca: 'letsencrypt', names: [`h${i}.example.com`] });
  const a = l.assess({ ca: 'letsencrypt', names: ['new.example.com'] });
  assert.equal(a.status, 'blocked');
  assert.equal(a.findings.find((f) => f.limit === 'certs-per-domain')!.scope, 'example.com');
  assert.equal(l.assess({ ca: 'letsencrypt', names: ['h1.example.com'], renewal: true }).status, 'ok');
  assert.equal(l.assess({ ca: 'letsencrypt', names: ['new.example.org'] }).status, 'ok');
  // Staging has its own, larger buckets; other CAs publish none Homeport meters.
  assert.equal(l.assess({ ca: 'letsencrypt-staging', names: ['new.example.com'] }).status, 'ok');
  assert.deepEqual(l.assess({ ca: 'zerossl', names: ['new.example.com'] }).findings, []);
  clock.advance((7 * 24 * HOUR) / 50);
  assert.equal(l.assess({ ca: 'letsencrypt', names: ['new.example.com'] }).findings.find((f) => f.limit === 'certs-per-domain')!.remaining, 1);
});

test('failed validations per name and account per hour, and new orders per account', async () => {
  const clock = new ManualClock(start);
  const { l } = await ledger(clock);
  for (let i = 0; i < 5; i++) await l.recordFailedValidation({ ca: 'letsencrypt', account: ACCOUNT, identifier: 'www.example.com' });
  const a = l.assess({ ca: 'letsencrypt', account: ACCOUNT, names: ['www.example.com'] });
  assert.equal(a.status, 'blocked');
  assert.equal(a.retryAt, start + 12 * 60_000);
  // Without a known account, every account of the CA this host used is considered.
  assert.equal(l.assess({ ca: 'letsencrypt', names: ['www.example.com'] }).status, 'blocked');
  assert.equal(l.assess({ ca: 'letsencrypt', account: 'https://other/acct', names: ['www.example.com'] }).status, 'ok');
  for (let i = 0; i < 240; i++) await l.recordOrder({ ca: 'letsencrypt', account: ACCOUNT, names: ['x.example.org'] });
  const orders = l.assess({ ca: 'letsencrypt', account: ACCOUNT, names: ['y.example.org'] }).findings.find((f) => f.limit === 'new-orders')!;
  assert.equal(orders.status, 'warn');
  assert.equal(orders.remaining, 60);
});

test('a rateLimited answer is obeyed until its Retry-After, and the ledger survives a restart', async () => {
  const clock = new ManualClock(start);
  const { l, file } = await ledger(clock);
  await l.recordRateLimited({ ca: 'letsencrypt', account: ACCOUNT, names: ['www.example.com'], retryAfter: start + 2 * HOUR, detail: 'too many certificates' });
  await l.recordCertificate({ ca: 'letsencrypt', names: ['www.example.com'] });
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  const again = await RateLimitLedger.open(file, clock);
  const a = again.assess({ ca: 'letsencrypt', account: ACCOUNT, names: ['www.example.com', 'example.com'] });
  assert.equal(a.status, 'blocked');
  assert.equal(a.retryAt, start + 2 * HOUR);
  assert.match(a.findings.at(-1)!.message, /asked to wait until 2026-01-05T14:00:00\.000Z \(2 h from now\): too many certificates/);
  assert.equal(again.assess({ ca: 'letsencrypt', account: ACCOUNT, names: ['other.example.com'] }).status, 'ok');
  clock.advance(2 * HOUR);
  assert.equal(again.assess({ ca: 'letsencrypt', account: ACCOUNT, names: ['www.example.com'] }).status, 'ok');
  // A damaged ledger is rebuilt empty rather than blocking issuance forever.
  await fs.writeFile(file, '{not json');
  assert.equal((await RateLimitLedger.open(file, clock)).assess({ ca: 'letsencrypt', names: ['www.example.com'] }).status, 'ok');
});

test('two processes share the ledger: neither overwrites what the other recorded, and refresh() sees it', async () => {
  const file = path.join(tmpDir(), 'rate-limits.json');
  const module = path.join(__dirname, '..', '..', 'main', 'engine', 'preflight', 'rate-limits.js');
  // Each child records 30 orders for the same account as fast as it can, at the same time as the others.
  const child = (n: number) => `
    const { RateLimitLedger } = require(${JSON.stringify(module)});
    const { systemClock } = require(${JSON.stringify(path.join(path.dirname(module), '..', 'clock.js'))});
    (async () => {
      const l = await RateLimitLedger.open(${JSON.stringify(file)}, systemClock);
      await Promise.all(Array.from({ length: 30 }, (_, i) => l.recordOrder({ ca: 'letsencrypt', account: ${JSON.stringify(ACCOUNT)}, names: ['p${n}-' + i + '.example.com'] })));
      for (let i = 0; i < 5; i++) await l.recordOrder({ ca: 'letsencrypt', account: ${JSON.stringify(ACCOUNT)}, names: ['q${n}.example.com'] });
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const { spawn } = await import('node:child_process');
  // This process holds an instance opened before the children wrote anything, as a long-running app does.
  const app = await RateLimitLedger.open(file, systemClock);
  const runs = [1, 2, 3].map(
    (n) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, ['-e', child(n)], { stdio: ['ignore', 'ignore', 'inherit'] });
        p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child ${n} exited ${code}`))));
      }),
  );
  await Promise.all([...runs, app.recordOrder({ ca: 'letsencrypt', account: ACCOUNT, names: ['app.example.com'] })]);
  await app.recordOrder({ ca: 'letsencrypt', account: ACCOUNT, names: ['app2.example.com'] });
  const orders = (l: RateLimitLedger) => l.assess({ ca: 'letsencrypt', account: ACCOUNT, names: ['x.example.com'] }).findings.find((f) => f.limit === 'new-orders')!;
  // 3 × 35 by the children and 2 by the app: every one of them is in the file.
  const spent = 3 * 35 + 2;
  assert.equal(orders(await RateLimitLedger.open(file, systemClock)).remaining, 300 - spent);
  // The app's own copy is the file as of its last write; refresh() reads the others' later records too.
  await app.refresh();
  assert.equal(orders(app).remaining, 300 - spent);
});

test('a certificate is counted once per issuance, and records made while a write is under way are all kept', async () => {
  const clock = new ManualClock(start);
  const { l, file } = await ledger(clock);
  const other = await RateLimitLedger.open(file, clock);
  await Promise.all(Array.from({ length: 4 }, () => l.recordCertificate({ ca: 'letsencrypt', names: ['www.example.com'] })));
  // Opened before those writes: its own record lands beside them instead of replacing them.
  await other.recordCertificate({ ca: 'letsencrypt', names: ['www.example.com'] });
  const fresh = await RateLimitLedger.open(file, clock);
  assert.equal(fresh.assess({ ca: 'letsencrypt', names: ['www.example.com'] }).status, 'blocked', 'five of five duplicate certificates');
  assert.equal(fresh.assess({ ca: 'letsencrypt', names: ['other.example.com'] }).findings.find((f) => f.limit === 'certs-per-domain')!.remaining, 45);
});
