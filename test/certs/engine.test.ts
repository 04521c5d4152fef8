import { test } from 'node:test';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import { ManualClock, type Timer } from '../../main/engine/clock';
import { Engine, certIdFor, type ActiveCertificate } from '../../main/engine/engine';
import { HomeportError } from '../../main/engine/errors';
import type { EngineEventName, EngineEvents } from '../../main/engine/events';
import type { IssueRequest, RenewalWindow } from '../../main/engine/certs/types';
import { tmpDir } from '../helpers/tmp';
import { LocalCa } from './local-ca';

const DAY = 86_400_000;

async function setup(lifetimeMs = 90 * DAY) {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0));
  // Backdated by an hour, as Let's Encrypt does: ready at once with a 60 s margin.
  const ca = new LocalCa({ notBefore: () => clock.now() - 3_600_000, lifetimeMs });
  const engine = await Engine.open({ dataDir: tmpDir(), clock, issuer: ca, random: () => 0.5 });
  return { clock, ca, engine };
}

function next<K extends EngineEventName>(engine: Engine, name: K): Promise<EngineEvents[K]> {
  return new Promise((resolve) => engine.events.once(name, resolve));
}

/** Waits until the engine has planned its next attempt for `id` (planning follows activation asynchronously). */
async function planned(engine: Engine, id: string): Promise<number> {
  for (;;) {
    const at = engine.nextAttempt(id);
    if (at) return at.getTime();
    await new Promise((r) => setImmediate(r));
  }
}

test('start() issues a planned certificate, activates it and hands it to onActivated', async () => {
  const { clock, engine } = await setup();
  const cert = await engine.addCertificate({ names: ['Bücher.Example'] });
  assert.equal(cert.name, 'xn--bcher-kva.example');
  assert.deepEqual(cert.names, ['xn--bcher-kva.example']);
  const swapped: ActiveCertificate[] = [];
  engine.onActivated((c) => swapped.push(c));
  const activated = next(engine, 'cert:activated');
  await engine.start();
  clock.advance(0);
  await activated;
  const [view] = await engine.list();
  assert.equal(view!.state, 'active');
  assert.equal(swapped.length, 1);
  assert.equal(swapped[0]!.id, cert.name);
  assert.equal(swapped[0]!.meta.serial, view!.active!.serial);
  assert.deepEqual(await engine.activeCertificate(cert.name), swapped[0]);
  await engine.close();
});

test('the renewal timer fires when a third of the lifetime remains (with jitter), not before', async () => {
  const { clock, ca, engine } = await setup();
  const cert = await engine.addCertificate({ names: ['renew.example'] });
  await engine.start();
  const first = next(engine, 'cert:activated');
  clock.advance(0);
  const { serial } = await first;
  const view = await engine.status(cert.name);
  const renewAt = Date.parse(view.renewal!.at);
  assert.equal(await planned(engine, cert.name), renewAt, 'the scheduler uses the plan status shows');
  const notAfter = Date.parse(view.active!.notAfter);
  const notBefore = Date.parse(view.active!.notBefore);
  const third = notAfter - (notAfter - notBefore) / 3;
  assert.ok(renewAt <= third && renewAt >= third - (notAfter - notBefore) / 30, view.renewal!.reason);

  clock.set(renewAt - 1000);
  assert.equal(ca.issued, 1, 'not renewed early');
  assert.equal(engine.nextAttempt(cert.name)?.getTime(), renewAt);
  const renewed = next(engine, 'cert:activated');
  clock.set(renewAt + 1000);
  const e = await renewed;
  assert.equal(e.previousSerial, serial);
  assert.equal(ca.issued, 2);
  await engine.close();
});

test('failures back off and never loop; a success ends the backoff', async () => {
  const { clock, ca, engine } = await setup();
  await engine.addCertificate({ names: ['flaky.example'] });
  ca.failWith = new HomeportError('acme.serverInternal', 'The CA had an internal error.');
  const failures: { at: number; retryAt: number }[] = [];
  engine.events.on('cert:failed', (f) => failures.push({ at: clock.now(), retryAt: Date.parse(f.retryAt!) }));
  const start = clock.now();
  let failed = next(engine, 'cert:failed');
  await engine.start();
  clock.advance(0);
  await failed;
  // Follow the retries for ten minutes of engine time.
  while (failures.at(-1)!.retryAt < start + 10 * 60_000) {
    const last = failures.at(-1)!;
    assert.ok(last.retryAt > last.at, 'every retry is in the future');
    assert.equal(await planned(engine, 'flaky.example'), last.retryAt, 'the next attempt is planned at retryAt');
    clock.set(last.retryAt - 1000);
    assert.equal(failures.at(-1), last, 'no attempt before retryAt');
    failed = next(engine, 'cert:failed');
    clock.set(last.retryAt);
    await failed;
  }
  assert.ok(failures.length <= 4, `${failures.length} attempts in 10 minutes`);
  const gaps = failures.map((f) => f.retryAt - f.at);
  assert.ok(gaps.every((g, i) => i === 0 || g > gaps[i - 1]!), `growing gaps: ${gaps}`);
  assert.equal(ca.issued, 0);

  ca.failWith = undefined;
  const activated = next(engine, 'cert:activated');
  clock.set(await planned(engine, 'flaky.example'));
  await activated;
  const view = (await engine.list())[0]!;
  assert.equal(view.state, 'active');
  assert.equal(view.failures, 0);
  await engine.close();
});

test('renew() leaves certificates that are not due alone and renews everything with force', async () => {
  const { clock, ca, engine } = await setup();
  await engine.addCertificate({ names: ['a.example'] });
  await engine.addCertificate({ names: ['b.example'] });
  const first = await engine.renew();
  assert.deepEqual(first.map((o) => o.action), ['issued', 'issued']);
  clock.advance(1000);
  const notDue = await engine.renew();
  assert.deepEqual(notDue.map((o) => o.action), ['not-due', 'not-due']);
  assert.equal(ca.issued, 2);
  const forced = await engine.renew({ id: 'b.example', force: true });
  assert.deepEqual(forced.map((o) => [o.id, o.action]), [['b.example', 'issued']]);
  assert.equal(ca.issued, 3);
  await assert.rejects(engine.renew({ id: 'c.example' }), (e: HomeportError) => e.code === 'certs.unknown' && /a\.example, b\.example/.test(e.fix ?? ''));
  await engine.close();
});

test('certificate ids are safe directory names', () => {
  assert.equal(certIdFor('*.example.com'), 'wildcard_.example.com');
  assert.equal(certIdFor('Home.Example.COM'), 'home.example.com');
});

test('a running engine picks up certificates another process added, after reloadConfig()', async () => {
  const { clock, engine, ca } = await setup();
  await engine.start();
  const other = await Engine.open({ dataDir: engine.dataDir, clock, issuer: ca });
  await other.addCertificate({ names: ['later.example'] });
  assert.equal(engine.nextAttempt('later.example'), undefined);
  await engine.reloadConfig();
  assert.equal(engine.nextAttempt('later.example')?.getTime(), clock.now(), 'issued at once');
  const activated = next(engine, 'cert:activated');
  clock.advance(0);
  assert.equal((await activated).name, 'later.example');
  await engine.close();
  await other.close();
});

test('removing a certificate takes it out of config and moves its files out of certs/', async () => {
  const { engine } = await setup();
  await engine.addCertificate({ names: ['gone.example'] });
  await engine.renew();
  assert.ok(await engine.activeCertificate('gone.example'));
  await engine.removeCertificate('gone.example');
  assert.deepEqual(engine.config.certificates, []);
  assert.equal(await engine.activeCertificate('gone.example'), undefined);
  const removed = await fs.readdir(path.join(engine.dataDir, 'removed'));
  assert.equal(removed.length, 1);
  assert.ok(removed[0]!.startsWith('gone.example-'));
  assert.ok(await fs.stat(path.join(engine.dataDir, 'removed', removed[0]!, 'current', 'key.pem')));
  await engine.close();
});

/** A ManualClock that knows which of its timers are still armed. */
class CountingClock extends ManualClock {
  readonly armed = new Set<object>();
  override at(at: number, fn: () => void): Timer {
    const token = {};
    this.armed.add(token);
    const timer = super.at(at, () => {
      this.armed.delete(token);
      fn();
    });
    return {
      cancel: () => {
        this.armed.delete(token);
        timer.cancel();
      },
    };
  }
}

/**
 * Lets the engine's background work after a timer finish: waits until `state` (what the test
 * watches) has stayed the same for 300 ms of real time (issuing makes an RSA key).
 */
async function settled(state: () => unknown = () => undefined): Promise<void> {
  let last = JSON.stringify(state());
  for (let quiet = 0; quiet < 6; ) {
    await new Promise((r) => setTimeout(r, 50));
    const now = JSON.stringify(state());
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

async function countingSetup(ca: (clock: ManualClock) => LocalCa = (clock) => new LocalCa({ notBefore: () => clock.now() - 3_600_000, lifetimeMs: 90 * DAY })) {
  const clock = new CountingClock(Date.UTC(2026, 5, 1, 12, 0, 0));
  const issuer = ca(clock);
  const engine = await Engine.open({ dataDir: tmpDir(), clock, issuer, random: () => 0.5 });
  // No log-list download timer: every armed timer is the certificate's.
  await engine.updateConfig((c) => ({ ...c, ct: { ...c.ct, refreshLogList: false } }));
  return { clock, ca: issuer, engine };
}

test('one renewal timer per certificate, however many callers plan at once: one renewal per cycle, nothing armed after close()', async () => {
  const { clock, ca, engine } = await countingSetup();
  const { name } = await engine.addCertificate({ names: ['once.example'] });
  let activations = 0;
  engine.onActivated(() => activations++);
  const watched = () => [ca.issued, activations, clock.armed.size, engine.nextAttempt(name)];
  await engine.start();
  clock.advance(0);
  await settled(watched);
  assert.equal(ca.issued, 1);
  for (const cycle of [1, 2]) {
    assert.equal(clock.armed.size, 1, `cycle ${cycle}: a single timer armed`);
    clock.set(engine.nextAttempt(name)!.getTime());
    await settled(watched);
    assert.equal(ca.issued, 1 + cycle, `cycle ${cycle}: one renewal`);
    assert.equal(activations, 1 + cycle);
  }
  assert.equal(clock.armed.size, 1);
  await engine.close();
  assert.equal(clock.armed.size, 0, 'close() leaves nothing armed');
});

test('the CA\'s renewal window is asked again (every 6 h, or at its Retry-After): pulled earlier, the renewal comes at the new time', async () => {
  const HOUR = 3_600_000;
  const asked: number[] = [];
  let window: RenewalWindow | Error = new Error('not yet');
  let clockRef!: ManualClock;
  const { clock, ca, engine } = await countingSetup((c) => {
    clockRef = c;
    return Object.assign(new LocalCa({ notBefore: () => c.now() - HOUR, lifetimeMs: 90 * DAY }), {
      renewalWindow: async () => {
        asked.push(clockRef.now());
        if (window instanceof Error) throw window;
        return window;
      },
    });
  });
  const t0 = clock.now();
  window = { start: t0 + 50 * DAY, end: t0 + 52 * DAY };
  const { name } = await engine.addCertificate({ names: ['ari.example'] });
  const watched = () => [ca.issued, asked.length, engine.nextAttempt(name)];
  await engine.start();
  clock.advance(0);
  await settled(watched);
  assert.equal(engine.nextAttempt(name)?.getTime(), t0 + 51 * DAY, 'inside the first window');
  const polls = asked.length;

  clock.advance(6 * HOUR - 1000);
  await settled(watched);
  assert.equal(asked.length, polls, 'not asked again before 6 h');
  // A mass revocation: the CA pulls the window in, and says when to ask next.
  window = { start: clock.now() + 2 * DAY, end: clock.now() + 2 * DAY + 2 * HOUR, retryAfter: clock.now() + 12 * HOUR };
  const pulledIn = window.start + HOUR;
  clock.advance(1000);
  await settled(watched);
  assert.equal(asked.length, polls + 1, 'asked again after 6 h');
  assert.equal(engine.nextAttempt(name)?.getTime(), pulledIn, 'the renewal moved to the new window');

  const retryAfter = window.retryAfter!;
  window = new Error('CA unreachable');
  clock.set(retryAfter - 1000);
  await settled(watched);
  assert.equal(asked.length, polls + 1, 'not asked before Retry-After');
  clock.set(retryAfter);
  await settled(watched);
  assert.equal(asked.length, polls + 2, 'asked at Retry-After');
  assert.equal(engine.nextAttempt(name)?.getTime(), pulledIn, 'a CA that does not answer has not taken its window back');

  clock.set(pulledIn - 1000);
  await settled(watched);
  assert.equal(ca.issued, 1);
  clock.set(pulledIn);
  await settled(watched);
  assert.equal(ca.issued, 2, 'renewed at the new time');
  await engine.close();
  assert.equal(clock.armed.size, 0);
});

test('removing a certificate while this process issues it waits for the issuance, then edits the config and moves the files', async () => {
  const { ca, engine } = await setup();
  const { name } = await engine.addCertificate({ names: ['busy.example'] });
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let askedCa!: () => void;
  const asked = new Promise<void>((r) => (askedCa = r));
  const issue = ca.issue.bind(ca);
  ca.issue = async (req: IssueRequest) => {
    askedCa();
    await held;
    return issue(req);
  };
  const issuing = engine.issue(name);
  await asked;
  const removing = engine.removeCertificate(name);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(engine.config.certificates.map((c) => c.name), [name], 'the config is left alone while the issuance runs');
  release();
  await Promise.allSettled([issuing]);
  await removing;
  assert.deepEqual(engine.config.certificates, []);
  await assert.rejects(fs.stat(path.join(engine.dataDir, 'certs', name)), { code: 'ENOENT' });
  const [removed] = await fs.readdir(path.join(engine.dataDir, 'removed'));
  assert.ok(await fs.stat(path.join(engine.dataDir, 'removed', removed!, 'current', 'cert.pem')), 'the issued certificate went with it');
  await engine.close();
});

test('a removed certificate\'s timers are cancelled: its resting successor is never judged again, nothing is planned', async () => {
  // notBefore now: a first certificate held ("hold") rests 5 s for its ready moment.
  const { clock, engine } = await countingSetup((c) => new LocalCa({ notBefore: () => c.now(), lifetimeMs: 90 * DAY }));
  const { name } = await engine.addCertificate({ names: ['rest.example'], serving: 'hold' });
  const resting = new Promise<void>((resolve) => engine.events.on('cert:state', (e) => e.state === 'resting' && resolve()));
  await engine.start();
  clock.advance(0);
  await resting;
  await settled(() => clock.armed.size);
  assert.equal((await engine.status(name)).state, 'resting');
  assert.equal(clock.armed.size, 1, 'the readiness timer');
  await engine.removeCertificate(name);
  assert.equal(clock.armed.size, 0);
  const activated: string[] = [];
  engine.events.on('cert:activated', (e) => activated.push(e.name));
  clock.advance(60_000);
  await settled(() => activated.length);
  assert.deepEqual(activated, []);
  assert.equal(engine.nextAttempt(name), undefined);
  await assert.rejects(fs.stat(path.join(engine.dataDir, 'certs', name)), { code: 'ENOENT' });
  await engine.close();
});

test('removal refused while the lock is held elsewhere in this very process: said plainly, the config untouched', async () => {
  const { engine } = await setup();
  const { name } = await engine.addCertificate({ names: ['held.example'] });
  const lock = await engine.store.lock(name);
  await assert.rejects(engine.removeCertificate(name), (e: HomeportError) => {
    assert.equal(e.code, 'certs.locked');
    assert.match(e.message, /in this Homeport process/);
    assert.doesNotMatch(e.message, /Another Homeport process/);
    return true;
  });
  assert.deepEqual(engine.config.certificates.map((c) => c.name), [name]);
  await lock.release();
  await engine.removeCertificate(name);
  assert.deepEqual(engine.config.certificates, []);
  await engine.close();
});

test('a renewal timer that fires while another renewal of the certificate runs asks again whether it is due, and issues nothing more', async () => {
  const { clock, ca, engine } = await countingSetup();
  const { name } = await engine.addCertificate({ names: ['twice.example'] });
  const watched = () => [ca.issued, clock.armed.size, engine.nextAttempt(name)];
  await engine.start();
  clock.advance(0);
  await settled(watched);
  const at = engine.nextAttempt(name)!.getTime();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const issue = ca.issue.bind(ca);
  ca.issue = async (req: IssueRequest) => {
    await held;
    return issue(req);
  };
  const forced = engine.issue(name);
  await new Promise((r) => setTimeout(r, 50));
  clock.set(at);
  release();
  await forced;
  await settled(watched);
  assert.equal(ca.issued, 2, 'the forced renewal only');
  assert.ok(engine.nextAttempt(name)!.getTime() > at, 'planned for the new certificate');
  await engine.close();
});

test('a planning that finishes late, from older state, does not replace a newer plan', async () => {
  const HOUR = 3_600_000;
  let window: RenewalWindow = { start: 0, end: 0 };
  let stall: Promise<void> | undefined;
  const { clock, ca, engine } = await countingSetup((c) =>
    Object.assign(new LocalCa({ notBefore: () => c.now() - HOUR, lifetimeMs: 90 * DAY }), {
      renewalWindow: async () => {
        const answer = window;
        const wait = stall;
        stall = undefined;
        await wait;
        return answer;
      },
    }),
  );
  const t0 = clock.now();
  window = { start: t0 + 10 * DAY, end: t0 + 12 * DAY };
  const { name } = await engine.addCertificate({ names: ['late.example'] });
  const watched = () => [ca.issued, clock.armed.size, engine.nextAttempt(name)];
  await engine.start();
  clock.advance(0);
  await settled(watched);
  assert.equal(engine.nextAttempt(name)?.getTime(), t0 + 11 * DAY);
  // The 6-hour re-check asks the CA, which is slow to answer (with the window of the old certificate).
  let release!: () => void;
  stall = new Promise<void>((r) => (release = r));
  clock.advance(6 * HOUR);
  await new Promise((r) => setTimeout(r, 50));
  // Meanwhile a renewal by hand, and a plan for the new certificate.
  window = { start: clock.now() + 40 * DAY, end: clock.now() + 42 * DAY };
  const fresh = window.start + DAY;
  await engine.issue(name);
  await settled(watched);
  assert.equal(engine.nextAttempt(name)?.getTime(), fresh);
  release();
  await settled(watched);
  assert.equal(engine.nextAttempt(name)?.getTime(), fresh, 'the late answer about the old certificate is dropped');
  assert.equal(clock.armed.size, 2, 'the renewal and its re-check');
  await engine.close();
});
