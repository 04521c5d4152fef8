import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPebble, type Pebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { startFakeCa, type FakeCa } from './fake-ca';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { startChallengeListeners, type ChallengeListeners } from '../../main/engine/acme/challenge-listeners';
import { ChallengeStore } from '../../main/engine/acme/challenges';
import { AcmeProblemError, RateLimitReachedError } from '../../main/engine/acme/problems';
import { RateLimitLedger, type LimitSpec } from '../../main/engine/preflight/rate-limits';
import { systemClock } from '../../main/engine/clock';

// The issuer and pre-flight's rate-limit ledger: what the ledger says the CA would refuse is
// not sent (the next CA issues), and orders, certificates, failed validations and the CA's
// own `rateLimited` answers are written down.
let pebble: Pebble;
let fake: FakeCa;
let listeners: ChallengeListeners;
let scratch: string;
const store = new ChallengeStore();
const HOUR = 3_600_000;
const LIMITS: LimitSpec[] = [
  { id: 'new-orders', max: 100, windowMs: 3 * HOUR, label: 'new orders per account' },
  { id: 'duplicate-certs', max: 1, windowMs: 7 * 24 * HOUR, label: 'certificates for exactly the same names' },
  { id: 'failed-validations', max: 5, windowMs: HOUR, label: 'failed validations per name and account' },
];

before(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'homeport-ledger-'));
  pebble = await startPebble();
  fake = await startFakeCa(scratch, {
    orderProblem: { status: 429, problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders' }, headers: { 'retry-after': '3600' } },
  });
  listeners = await startChallengeListeners({ store, httpPort: pebble.httpPort, host: '127.0.0.1' });
});
after(async () => {
  await listeners?.close();
  await fake?.close();
  await pebble?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Pebble's directory under its IP, the one CA the test limits; the same Pebble as localhost is a second CA. */
const limitedUrl = () => pebble.directoryUrl;
const otherUrl = () => pebble.directoryUrl.replace('127.0.0.1', 'localhost');

async function ledger(): Promise<RateLimitLedger> {
  return RateLimitLedger.open(path.join(tmpDir(), 'rate-limits.json'), systemClock, (ca) => (ca === limitedUrl() ? LIMITS : []));
}

test('an order the ledger blocks is not sent; the next CA issues', async () => {
  const l = await ledger();
  const issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: limitedUrl(), caRoot: pebble.caRootFile }, { ca: otherUrl(), caRoot: pebble.caRootFile }],
    acceptTos: true,
    challenges: store,
    ledger: l,
  });
  try {
    const first = await issuer.issue({ names: ['dup.example.test'], keyType: 'ec256' });
    assert.equal(first.ca, limitedUrl());
    const account = (await issuer.acmeClient(limitedUrl())).accountUrl;
    const after = l.assess({ ca: limitedUrl(), account, names: ['dup.example.test'] });
    assert.equal(after.status, 'blocked', 'one certificate for these names is the (test) limit');
    assert.equal(after.findings.find((f) => f.limit === 'new-orders')?.remaining, 99, 'the order was recorded for this account');

    const steps: string[] = [];
    const second = await issuer.issue({ names: ['dup.example.test'], keyType: 'ec256', onProgress: (s) => steps.push(s) });
    assert.equal(second.ca, otherUrl(), 'the second CA issued');
    const asked = steps.filter((s) => s.startsWith('Asking'));
    assert.equal(asked.length, 1, `only the second CA got an order: ${steps.join(' | ')}`);
    assert.match(asked[0], /localhost/);
    assert.ok(steps.some((s) => /did not ask .*exactly the same names.*trying the CA at localhost/.test(s)), steps.join(' | '));
  } finally {
    issuer.close();
  }
});

test('what another process recorded meanwhile counts: the issuer reads the ledger again before ordering', async () => {
  const file = path.join(tmpDir(), 'rate-limits.json');
  const limits = (ca: string) => (ca === limitedUrl() ? LIMITS : []);
  const l = await RateLimitLedger.open(file, systemClock, limits);
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: limitedUrl(), caRoot: pebble.caRootFile }], acceptTos: true, challenges: store, ledger: l });
  try {
    // Opened after the issuer's copy was read: `homeport issue` beside the running app.
    const cli = await RateLimitLedger.open(file, systemClock, limits);
    await cli.recordCertificate({ ca: limitedUrl(), names: ['shared.example.test'] });
    await assert.rejects(issuer.issue({ names: ['shared.example.test'], keyType: 'ec256' }), (e: unknown) => e instanceof RateLimitReachedError);
    // And the issuer's own records land beside the other process's, counted once each.
    await issuer.issue({ names: ['own.example.test'], keyType: 'ec256' });
    const account = (await issuer.acmeClient()).accountUrl;
    const fresh = await RateLimitLedger.open(file, systemClock, limits);
    assert.equal(fresh.assess({ ca: limitedUrl(), account, names: ['shared.example.test'] }).status, 'blocked');
    assert.equal(fresh.assess({ ca: limitedUrl(), account, names: ['own.example.test'] }).findings.find((f) => f.limit === 'duplicate-certs')?.remaining, 0);
    assert.equal(fresh.assess({ ca: limitedUrl(), account, names: ['x.example.test'] }).findings.find((f) => f.limit === 'new-orders')?.remaining, 99, 'one order');
  } finally {
    issuer.close();
  }
});

test('alone, the blocked CA fails at once with when to try again', async () => {
  const l = await ledger();
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: limitedUrl(), caRoot: pebble.caRootFile }], acceptTos: true, challenges: store, ledger: l });
  try {
    await issuer.issue({ names: ['once.example.test'], keyType: 'ec256' });
    await assert.rejects(issuer.issue({ names: ['once.example.test'], keyType: 'ec256' }), (e: unknown) => {
      assert.ok(e instanceof RateLimitReachedError, String(e));
      assert.ok(e.retryAfter! > Date.now() + 6 * 24 * HOUR);
      return true;
    });
  } finally {
    issuer.close();
  }
});

test('a failed validation is recorded against the name', async () => {
  const l = await ledger();
  const unserved = new ChallengeStore();
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: limitedUrl(), caRoot: pebble.caRootFile }], acceptTos: true, challenges: unserved, ledger: l });
  try {
    await assert.rejects(issuer.issue({ names: ['fails.example.test'], keyType: 'ec256', challenge: 'http-01' }), (e: unknown) => e instanceof AcmeProblemError && e.challenge === 'http-01');
    const account = (await issuer.acmeClient()).accountUrl;
    const finding = l.assess({ ca: limitedUrl(), account, names: ['fails.example.test'] }).findings.find((f) => f.limit === 'failed-validations');
    assert.equal(finding?.remaining, 4);
  } finally {
    issuer.close();
  }
});

test('the CA\'s rateLimited answer is written down and obeyed: no second order before Retry-After', async () => {
  const l = await ledger();
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: fake.directoryUrl, caRoot: fake.caRootFile }], ledger: l });
  try {
    const t0 = Date.now();
    await assert.rejects(issuer.issue({ names: ['busy.example.test'], keyType: 'ec256' }), { code: 'acme.rateLimited' });
    const assessment = l.assess({ ca: fake.directoryUrl, names: ['busy.example.test'] });
    assert.equal(assessment.status, 'blocked');
    assert.ok(assessment.retryAt! >= t0 + HOUR - 1_000);
    const orders = fake.orders.length;
    await assert.rejects(issuer.issue({ names: ['busy.example.test'], keyType: 'ec256' }), { code: 'acme.rate-limit-reached' });
    assert.equal(fake.orders.length, orders, 'nothing was sent');
  } finally {
    issuer.close();
  }
});
