import { test } from 'node:test';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import { ManualClock } from '../../main/engine/clock';
import { Engine, certIdFor, type ActiveCertificate } from '../../main/engine/engine';
import { HomeportError } from '../../main/engine/errors';
import type { EngineEventName, EngineEvents } from '../../main/engine/events';
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
