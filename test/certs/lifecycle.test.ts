import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ManualClock } from '../../main/engine/clock';
import { EngineEmitter, type EngineEventName, type EngineEvents } from '../../main/engine/events';
import { HomeportError } from '../../main/engine/errors';
import { CertStore } from '../../main/engine/certs/store';
import { Lifecycle, type LifecycleDeps } from '../../main/engine/certs/lifecycle';
import { ctReadinessGate } from '../../main/engine/ct/gate';
import { CertificateConfigSchema, type CertificateConfig } from '../../main/engine/config/schema';
import { tmpDir } from '../helpers/tmp';
import { LocalCa } from './local-ca';

const MARGIN = 60_000;
const gateWith = (clock: ManualClock, ms: number) => ctReadinessGate({ clock, margins: { firstIssuanceMs: ms, renewalMs: ms } });

function setup(opts: Partial<LifecycleDeps> = {}, certOverrides: Partial<CertificateConfig> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
  const store = new CertStore(tmpDir());
  const events = new EngineEmitter();
  const ca = new LocalCa({ notBefore: () => clock.now(), lifetimeMs: 90 * 86400_000 });
  const seen: { event: EngineEventName; payload: unknown }[] = [];
  for (const e of ['cert:issued', 'cert:activated', 'cert:ct-ready', 'cert:failed', 'cert:state'] as EngineEventName[]) {
    events.on(e, (payload) => seen.push({ event: e, payload }));
  }
  const deps: LifecycleDeps = { store, issuer: async () => ca, gate: gateWith(clock, MARGIN), clock, events, ...opts };
  const lifecycle = new Lifecycle(deps);
  // A private CA: CT does not apply, so readyAt = notBefore + margin. Held unless a test says otherwise.
  const cert = CertificateConfigSchema.parse({ name: 'site', names: ['site.test'], keyType: 'rsa2048', serving: 'hold', ...certOverrides });
  return { clock, store, events, ca, seen, deps, lifecycle, cert };
}

/** Issues the first certificate and lets its readiness timer activate it. */
async function issueActive(x: ReturnType<typeof setup>) {
  await x.lifecycle.issue(x.cert, { reason: 'first' });
  const announced = next(x.events, 'cert:ct-ready');
  x.clock.advance(MARGIN);
  await announced; // the last write of the activation
  return (await x.lifecycle.status('site')).active!;
}

function next<K extends EngineEventName>(events: EngineEmitter, name: K): Promise<EngineEvents[K]> {
  return new Promise((resolve) => events.once(name, resolve));
}

test('a first certificate rests until notBefore + margin, then a timer activates it', async () => {
  const { clock, events, lifecycle, cert, seen, store } = setup();
  const issued = await lifecycle.issue(cert, { reason: 'first' });
  assert.equal(issued.state, 'resting');
  assert.equal(issued.active, undefined, 'nothing is served while it rests');
  const serial = issued.resting!.serial;
  assert.equal(issued.readiness?.readyAt, Date.parse(issued.resting!.notBefore) + MARGIN);

  clock.advance(MARGIN - 1000);
  assert.equal((await lifecycle.status('site')).state, 'resting');
  assert.equal(await store.read('site', 'current'), undefined);

  const activated = next(events, 'cert:activated');
  const ready = next(events, 'cert:ct-ready');
  clock.advance(1000);
  assert.deepEqual(await activated, { name: 'site', serial, previousSerial: undefined });
  assert.equal((await ready).serial, serial);
  const status = await lifecycle.status('site');
  assert.equal(status.state, 'active');
  assert.equal(status.active?.serial, serial);
  assert.equal(status.resting, undefined);
  assert.deepEqual(
    seen.filter((s) => s.event === 'cert:state').map((s) => (s.payload as { state: string }).state),
    ['issuing', 'resting', 'active'],
  );
  lifecycle.close();
});

test('a renewal keeps the previous certificate active until its successor is ready', async () => {
  const x = setup();
  const { clock, events, lifecycle, cert, store } = x;
  const first = await issueActive(x);
  const firstKey = readFileSync(path.join(store.dir('site'), 'current', 'key.pem'), 'utf8');

  clock.advance(30 * 86400_000);
  const renewed = await lifecycle.issue(cert, { reason: 'forced' });
  assert.equal(renewed.state, 'resting');
  assert.equal(renewed.active?.serial, first.serial, 'old certificate still served');
  assert.notEqual(renewed.resting?.serial, first.serial);
  assert.equal(readFileSync(path.join(store.dir('site'), 'current', 'key.pem'), 'utf8'), firstKey);

  const activated = next(events, 'cert:activated');
  clock.advance(MARGIN);
  assert.deepEqual(await activated, { name: 'site', serial: renewed.resting!.serial, previousSerial: first.serial });
  assert.deepEqual((await store.history('site')).map((m) => m.serial), [first.serial]);
  lifecycle.close();
});

test('a failed renewal records the failure and never touches the active certificate', async () => {
  const x = setup({ retryAt: (_e, failures, now) => now + failures * 60_000 });
  const { clock, lifecycle, cert, store, ca, seen } = x;
  const serial = (await issueActive(x)).serial;
  const before = readFileSync(path.join(store.dir('site'), 'current', 'fullchain.pem'), 'utf8');

  ca.failWith = new HomeportError('acme.connection', 'The CA reached 2001:db8::1 over IPv6, which did not answer.', {
    fix: 'Fix or remove the AAAA record.',
    details: { problemType: 'urn:ietf:params:acme:error:connection', identifier: 'site.test', addressUsed: '2001:db8::1' },
  });
  await assert.rejects(lifecycle.issue(cert, { reason: 'due' }), /over IPv6/);
  const status = await lifecycle.status('site');
  assert.equal(status.state, 'failed');
  assert.equal(status.active?.serial, serial);
  assert.equal(status.failure?.code, 'acme.connection');
  assert.equal(status.failure?.fix, 'Fix or remove the AAAA record.');
  assert.deepEqual(status.failure?.problem, {
    type: 'urn:ietf:params:acme:error:connection',
    identifier: 'site.test',
    addressUsed: '2001:db8::1',
  });
  assert.equal(status.failure?.retryAt, new Date(clock.now() + 60_000).toISOString());
  assert.equal(status.pending?.reason, 'due', 'the renewal is still wanted');
  assert.equal(status.failures, 1);
  assert.equal(readFileSync(path.join(store.dir('site'), 'current', 'fullchain.pem'), 'utf8'), before);
  assert.ok(seen.some((s) => s.event === 'cert:failed'));

  // The next failure backs off further; a success clears the record.
  await assert.rejects(lifecycle.issue(cert, { reason: 'due' }));
  assert.equal((await lifecycle.status('site')).failure?.retryAt, new Date(clock.now() + 120_000).toISOString());
  ca.failWith = undefined;
  const ok = await lifecycle.issue(cert, { reason: 'due' });
  assert.equal(ok.state, 'resting');
  assert.equal(ok.failures, 0);
  assert.equal(ok.failure, undefined);
  assert.equal(ok.pending, undefined);
  lifecycle.close();
});

test('serve-now activates a first certificate at once and announces readiness later', async () => {
  const { clock, events, lifecycle, cert } = setup({}, { serving: 'serve-now' });
  let ready = false;
  events.on('cert:ct-ready', () => (ready = true));
  const status = await lifecycle.issue(cert, { reason: 'first' });
  assert.equal(status.state, 'active');
  assert.equal(status.active?.serial, status.readiness?.serial);
  assert.equal(ready, false);
  const announced = next(events, 'cert:ct-ready');
  clock.advance(MARGIN);
  assert.equal((await announced).serial, status.active!.serial);
  lifecycle.close();
});

test('hold handshake N s: a first certificate is served at once (the proxy holds handshakes); the ready moment is announced', async () => {
  const x = setup({}, { serving: { holdHandshakeSeconds: 10 } });
  const ready = next(x.events, 'cert:ct-ready');
  const status = await x.lifecycle.issue(x.cert, { reason: 'first' });
  assert.equal(status.state, 'active');
  assert.equal(status.readiness?.readyAt, Date.parse(status.active!.notBefore) + MARGIN);
  x.clock.advance(MARGIN);
  assert.equal((await ready).serial, status.active!.serial);
  x.lifecycle.close();
});

test('no serving choice: a first certificate is served now (the default), a renewal rests until ready', async () => {
  const x = setup({}, { serving: undefined });
  const first = await x.lifecycle.issue(x.cert, { reason: 'first' });
  assert.equal(first.state, 'active');
  const renewed = await x.lifecycle.issue(x.cert, { reason: 'forced' });
  assert.equal(renewed.state, 'resting');
  assert.equal(renewed.active?.serial, first.active!.serial, 'the previous certificate stays active');
  x.lifecycle.close();
});

test('after a restart a resting successor is judged again from disk and its timer re-armed', async () => {
  const { clock, lifecycle, cert, deps, events } = setup();
  const issued = await lifecycle.issue(cert, { reason: 'first' });
  lifecycle.close(); // the process ends; its timers go with it

  const restarted = new Lifecycle(deps);
  const settled = await restarted.settle(cert);
  assert.equal(settled.state, 'resting');
  const activated = next(events, 'cert:activated');
  clock.advance(MARGIN);
  assert.equal((await activated).serial, issued.resting!.serial);
  restarted.close();
});

test('an issuance cut short by a crash is marked pending on restart and the served certificate stays', async () => {
  const x = setup();
  const { clock, lifecycle, cert, deps, store } = x;
  const serial = (await issueActive(x)).serial;
  lifecycle.close();
  // What a process killed while talking to the CA leaves behind:
  await store.writeJson('site', 'state.json', { state: 'issuing', since: new Date(clock.now()).toISOString(), pending: { since: 'x', reason: 'forced' } });
  const restarted = new Lifecycle(deps);
  const status = await restarted.settle(cert);
  assert.equal(status.state, 'active');
  assert.equal(status.active?.serial, serial);
  assert.equal(status.pending?.reason, 'forced');
  restarted.close();
});

test('a pre-flight failure blocks the certificate', async () => {
  const { lifecycle, cert, ca } = setup({
    check: async () => {
      throw new HomeportError('preflight.blocked', 'site.test has no A record.', { fix: 'Create one.' });
    },
  });
  await assert.rejects(lifecycle.issue(cert, { reason: 'first' }), /no A record/);
  const status = await lifecycle.status('site');
  assert.equal(status.state, 'blocked');
  assert.equal(status.failure?.code, 'preflight.blocked');
  assert.equal(ca.issued, 0, 'the CA was not asked');
  lifecycle.close();
});

test('a slow gate (strict mode waiting for log inclusion) does not hold the lock: the successor rests in next/, the lock is taken for the swap only', async () => {
  const x = setup();
  const serial = (await issueActive(x)).serial;
  let prove!: () => void;
  const gateAsked = new Promise<void>((asked) => {
    x.deps.gate = async () => {
      asked();
      await new Promise<void>((r) => (prove = r));
      return { readyAt: x.clock.now(), reason: 'every SCT proven logged' };
    };
  });
  const renewal = x.lifecycle.issue(x.cert, { reason: 'due' });
  await gateAsked;
  // Another process (`homeport issue`, `export`, a second app) can take the certificate's lock meanwhile.
  const other = await x.store.lock('site');
  await other.release();
  const meanwhile = await x.lifecycle.status('site');
  assert.equal(meanwhile.state, 'resting');
  assert.equal(meanwhile.active?.serial, serial, 'current/ is still served');
  assert.ok(meanwhile.resting, 'the successor rests in next/');
  prove();
  const done = await renewal;
  assert.equal(done.state, 'active');
  assert.equal(done.active?.serial, meanwhile.resting!.serial, 'promoted once proven');
  assert.equal(done.readiness?.reason, 'every SCT proven logged');
  x.lifecycle.close();
});

test('after a restart, a successor still waiting for its verdict is judged in the background: settle() returns, a never-ready verdict goes to the host for a retry', async () => {
  const x = setup({ retryAt: (_e, failures, now) => now + failures * 60_000 });
  const serial = (await issueActive(x)).serial;
  // The first process stores the successor and stops while its (strict) verdict is pending.
  x.deps.gate = () => new Promise(() => undefined);
  void x.lifecycle.issue(x.cert, { reason: 'due' });
  // Resting, and its lock released (the verdict is awaited without it).
  for (;;) {
    if ((await x.lifecycle.status('site')).state === 'resting') {
      const free = await x.store.lock('site').catch(() => undefined);
      if (free) {
        await free.release();
        break;
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  x.lifecycle.close();

  let judge: ((r: { readyAt: number | null; reason: string }) => void) | undefined;
  const failedLater: string[] = [];
  const restarted = new Lifecycle({
    ...x.deps,
    gate: () => new Promise((r) => (judge = r)),
    onFailedLater: (id) => failedLater.push(id),
  });
  const settled = await restarted.settle(x.cert);
  assert.equal(settled.state, 'resting', 'settle() did not wait for the verdict');
  assert.equal(settled.active?.serial, serial);
  const failed = next(x.events, 'cert:failed');
  while (!judge) await new Promise((r) => setImmediate(r));
  judge({ readyAt: null, reason: 'No SCT is from a log trusted today.' });
  assert.equal((await failed).code, 'ct.never-ready');
  while (failedLater.length === 0) await new Promise((r) => setImmediate(r));
  assert.deepEqual(failedLater, ['site']);
  const status = await restarted.status('site');
  assert.equal(status.state, 'failed');
  assert.equal(status.active?.serial, serial, 'the previous certificate stays active');
  assert.equal(status.resting, undefined);
  assert.equal(status.pending?.reason, 'due', 'the renewal is still wanted');
  restarted.close();
});
