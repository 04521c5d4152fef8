import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPebble, type Pebble } from '../helpers/pebble';
import { freePort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';
import { startFakeCa, type FakeCa } from './fake-ca';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { startChallengeListeners, type ChallengeListeners } from '../../main/engine/acme/challenge-listeners';
import { AcmeProblemError } from '../../main/engine/acme/problems';
import { planRenewal } from '../../main/engine/acme/renewal';
import { ariCertId } from '../../main/engine/acme/ari';
import { nextRetry } from '../../main/engine/acme/backoff';
import { ManualClock } from '../../main/engine/clock';
import type { HomeportError } from '../../main/engine/errors';
import type { IssuedCertificate } from '../../main/engine/certs/types';

// ARI against a local CA that offers renewalInfo (Debian's Pebble 2.4 does not), `replaces`
// on renewal orders, and falling back from a CA that is down or rate-limiting to the next.
let pebble: Pebble;
let listeners: ChallengeListeners;
let issued: IssuedCertificate;
let ari: FakeCa;
const windowStart = '2026-03-01T00:00:00Z';
const windowEnd = '2026-03-03T00:00:00Z';

function pebbleSpec() {
  return { ca: pebble.directoryUrl, caRoot: pebble.caRootFile };
}

// tmpDir() registers its cleanup with the current test, so directories made in before() are
// made by hand and removed in after().
let scratch: string;

before(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'homeport-ari-'));
  pebble = await startPebble();
  const first = new AcmeIssuer({ dataDir: path.join(scratch, 'data'), cas: [pebbleSpec()], acceptTos: true });
  listeners = await startChallengeListeners({ store: first.challenges, httpPort: pebble.httpPort, host: '127.0.0.1' });
  issued = await first.issue({ names: ['ari.example.test'], keyType: 'ec256' });
  first.close();
  ari = await startFakeCa(scratch, {
    renewalInfo: (id) =>
      id === ariCertId(issued.certPem)
        ? { body: { suggestedWindow: { start: windowStart, end: windowEnd }, explanationURL: 'https://ca.example/why' }, retryAfter: '21600' }
        : undefined,
    orderProblem: {
      status: 429,
      problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates for this name' },
      headers: { 'retry-after': '3600' },
    },
  });
});

after(async () => {
  await listeners?.close();
  await ari?.close();
  await pebble?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('ARI: the CA\'s renewalInfo window is fetched by certID and a renewal time is picked inside it', async () => {
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: ari.directoryUrl, caRoot: ari.caRootFile }] });
  try {
    const before = Date.now();
    const window = await issuer.renewalWindow(issued.certPem, ari.directoryUrl);
    assert.deepEqual(ari.renewalInfoRequests, [ariCertId(issued.certPem)]);
    assert.ok(window);
    assert.equal(window.start, Date.parse(windowStart));
    assert.equal(window.end, Date.parse(windowEnd));
    assert.equal(window.explanationUrl, 'https://ca.example/why');
    assert.ok(window.retryAfter! >= before + 21_600_000 && window.retryAfter! <= Date.now() + 21_600_000, 'Retry-After kept');
    const clock = new ManualClock(Date.parse('2026-02-01T00:00:00Z'));
    const plan = planRenewal({ certPem: issued.certPem, clock, window, random: () => 0.5 });
    assert.equal(plan.source, 'ari');
    assert.equal(plan.renewAt, Date.parse('2026-03-02T00:00:00Z'));
    assert.equal(plan.checkAgainAt, window.retryAfter);
  } finally {
    issuer.close();
  }
});

test('renewing sends `replaces`; a rate-limited CA is not retried at once and the next CA issues', async () => {
  const progress: string[] = [];
  const issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: ari.directoryUrl, caRoot: ari.caRootFile }, pebbleSpec()],
    acceptTos: true,
  });
  // Answer on Pebble's port from this issuer's store.
  await listeners.close();
  listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, host: '127.0.0.1' });
  try {
    const cert = await issuer.issue({ names: ['ari.example.test'], keyType: 'ec256', replacing: issued.certPem, onProgress: (s) => progress.push(s) });
    assert.equal(cert.ca, pebble.directoryUrl, 'the result names the CA that issued');
    assert.equal(ari.orders.length, 1, 'a rate-limited order is not repeated');
    assert.equal(ari.orders[0].replaces, ariCertId(issued.certPem));
    assert.ok(progress.some((p) => /rate limit.*trying the CA at 127\.0\.0\.1/.test(p)), progress.join(' | '));
    assert.notEqual(new X509Certificate(cert.certPem).serialNumber, new X509Certificate(issued.certPem).serialNumber);
  } finally {
    issuer.close();
  }
});

test('rateLimited alone: a typed error with Retry-After, and the back-off waits at least that long', async () => {
  const issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: ari.directoryUrl, caRoot: ari.caRootFile }] });
  try {
    const t0 = Date.now();
    const err = await issuer.issue({ names: ['limited.example.test'], keyType: 'ec256' }).then(
      () => assert.fail('should not issue'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AcmeProblemError);
    assert.equal(err.code, 'acme.rateLimited');
    assert.ok(err.retryAfter! >= t0 + 3_600_000 - 1_000);
    assert.match(err.fix ?? '', /Wait and try again after/);
    const clock = new ManualClock(t0);
    assert.ok(nextRetry({ clock, failures: 1, error: err }).retryAt >= err.retryAfter!);
  } finally {
    issuer.close();
  }
});

test('the first CA unreachable: the second issues and the result says which', async () => {
  const closed = await freePort();
  const progress: string[] = [];
  const issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: `https://127.0.0.1:${closed}/directory` }, pebbleSpec()],
    acceptTos: true,
  });
  await listeners.close();
  listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, host: '127.0.0.1' });
  try {
    const cert = await issuer.issue({ names: ['fallback.example.test'], keyType: 'ec256', onProgress: (s) => progress.push(s) });
    assert.equal(cert.ca, pebble.directoryUrl);
    assert.ok(new X509Certificate(cert.certPem).checkHost('fallback.example.test'));
    assert.ok(progress.some((p) => /cannot be reached.*refused.*trying/.test(p)), progress.join(' | '));
  } finally {
    issuer.close();
  }
});

test('every CA failing: one error naming each CA', async () => {
  const closed = await freePort();
  const issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: `https://127.0.0.1:${closed}/directory` }, { ca: ari.directoryUrl, caRoot: ari.caRootFile }],
  });
  try {
    await assert.rejects(issuer.issue({ names: ['nobody.example.test'], keyType: 'ec256' }), (e: HomeportError) => {
      assert.equal(e.code, 'acme.all-cas-failed');
      assert.match(e.message, /127\.0\.0\.1:\d+ cannot be reached/);
      assert.match(e.message, /rate limit/);
      return true;
    });
  } finally {
    issuer.close();
  }
});
