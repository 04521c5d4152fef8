import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../main/engine/clock';
import { Engine } from '../../main/engine/engine';
import { updateConfig } from '../../main/engine/config/file';
import type { Issuer, IssuedCertificate } from '../../main/engine/certs/types';
import type { EngineEventName, EngineEvents } from '../../main/engine/events';
import { repoRoot } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';
import { LocalCa } from '../certs/local-ca';
import { createCa, createLog, issueLeaf } from '../ct/helpers/test-pki';

/**
 * The engine with its default readiness gate (CT), serving policies, log list source,
 * inclusion monitor and clock check, driven by a ManualClock. LocalCa's root is private, so
 * CT does not apply: readyAt = notBefore + the configured margin.
 */
const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

async function setup(ct: { first?: number; renewal?: number } = {}, issuer?: (clock: ManualClock) => Issuer) {
  const clock = new ManualClock(T0);
  const dataDir = tmpDir();
  await updateConfig(dataDir, (c) => ({
    ...c,
    ct: { ...c.ct, firstIssuanceMarginSeconds: ct.first ?? 3, renewalMarginSeconds: ct.renewal ?? 10, refreshLogList: false },
  }));
  const ca = issuer?.(clock) ?? new LocalCa({ notBefore: () => clock.now(), lifetimeMs: 90 * 86_400_000 });
  const engine = await Engine.open({ dataDir, clock, issuer: ca, random: () => 0.5 });
  return { clock, dataDir, engine, ca };
}

function next<K extends EngineEventName>(engine: Engine, name: K, match: (e: EngineEvents[K]) => boolean = () => true): Promise<EngineEvents[K]> {
  return new Promise((resolve) => {
    const off = engine.events.on(name, (e) => {
      if (!match(e)) return;
      off();
      resolve(e);
    });
  });
}

test('default: a first certificate is served at once, cert:ct-ready fires at notBefore + first-issuance margin, status carries the CT verdict', async () => {
  const { clock, engine } = await setup({ first: 3 });
  const cert = await engine.addCertificate({ names: ['first.example'], keyType: 'rsa2048' });
  const logged = next(engine, 'cert:ct-logged');
  const view = await engine.issue(cert.name);
  assert.equal(view.state, 'active', 'serve-now is the default for a first certificate');
  assert.equal(view.serving, 'serve-now');
  const notBefore = Date.parse(view.active!.notBefore);
  assert.equal(view.readiness?.readyAt, notBefore + 3_000);
  assert.match(view.readiness!.reason, /CT not required: private CA/);
  assert.equal(view.ct && 'applicable' in view.ct && view.ct.applicable, false);
  assert.equal(view.ct && 'readyAt' in view.ct && view.ct.readyAt, new Date(notBefore + 3_000).toISOString());

  // The inclusion monitor runs beside serving and reports (no SCTs here: nothing to follow).
  const inclusion = await logged;
  assert.equal(inclusion.allLogged, false);
  assert.match(inclusion.summary, /no embedded SCTs/);
  const withInclusion = await engine.status(cert.name);
  assert.ok(withInclusion.ct && 'inclusion' in withInclusion.ct && withInclusion.ct.inclusion, 'status shows the inclusion result');

  let ready: EngineEvents['cert:ct-ready'] | undefined;
  engine.events.on('cert:ct-ready', (e) => (ready = e));
  clock.set(notBefore + 2_999);
  await new Promise((r) => setImmediate(r));
  assert.equal(ready, undefined, 'not before readyAt');
  const announced = next(engine, 'cert:ct-ready');
  clock.set(notBefore + 3_000);
  assert.deepEqual(await announced, { name: cert.name, serial: view.active!.serial, readyAt: new Date(notBefore + 3_000).toISOString() });
  await engine.close();
});

test('a renewal rests for the renewal margin and the previous certificate stays active; hold keeps a first one back', async () => {
  const { clock, engine } = await setup({ first: 2, renewal: 10 });
  const held = await engine.addCertificate({ names: ['held.example'], keyType: 'rsa2048', serving: 'hold' });
  const first = await engine.issue(held.name);
  assert.equal(first.state, 'resting');
  assert.equal(first.active, undefined, 'hold: nothing served before it is ready');
  const activated = next(engine, 'cert:activated');
  clock.advance(2_000);
  assert.equal((await activated).serial, first.resting!.serial);

  const renewed = await engine.issue(held.name);
  assert.equal(renewed.state, 'resting');
  assert.equal(renewed.active!.serial, first.resting!.serial, 'the previous certificate is still served');
  assert.equal(renewed.readiness?.readyAt, Date.parse(renewed.resting!.notBefore) + 10_000);
  const swapped = next(engine, 'cert:activated');
  clock.advance(10_000);
  assert.deepEqual(await swapped, { name: held.name, serial: renewed.resting!.serial, previousSerial: first.resting!.serial });
  await engine.close();
});

test('hold the TLS handshake: served at once, handshakeHold waits until CT-ready (capped by the policy), also after a restart', async () => {
  const { clock, dataDir, engine } = await setup({ first: 5 });
  const cert = await engine.addCertificate({ names: ['ondemand.example'], keyType: 'rsa2048', serving: { holdHandshakeSeconds: 2 } });
  const view = await engine.issue(cert.name);
  assert.equal(view.state, 'active');
  const readyAt = view.readiness!.readyAt!;
  assert.equal(engine.pendingReadyAt(cert.name)?.getTime(), readyAt);

  // Capped: a handshake waits at most 2 s although readyAt is 5 s away.
  let released = false;
  const capped = engine.handshakeHold(cert.name)!;
  assert.ok(capped, 'a handshake is held');
  void capped.then(() => (released = true));
  clock.advance(1_999);
  await new Promise((r) => setImmediate(r));
  assert.equal(released, false);
  clock.advance(1);
  await capped;
  await engine.close();

  // A restart before readyAt holds again; cert:ct-ready releases waiting handshakes.
  const again = await Engine.open({ dataDir, clock, issuer: new LocalCa({ notBefore: () => clock.now(), lifetimeMs: 86_400_000 }) });
  await again.start();
  assert.equal(again.pendingReadyAt(cert.name)?.getTime(), readyAt);
  const held = again.handshakeHold(cert.name)!;
  const ready = next(again, 'cert:ct-ready');
  clock.set(readyAt);
  await ready;
  await held;
  assert.equal(again.handshakeHold(cert.name), undefined, 'no hold once every browser accepts it');
  assert.equal(again.pendingReadyAt(cert.name), undefined);
  await again.close();
});

test('cert:ct-ready is re-armed after a restart for a certificate served before it was ready', async () => {
  const { clock, dataDir, engine } = await setup({ first: 4 });
  const cert = await engine.addCertificate({ names: ['restart.example'], keyType: 'rsa2048' });
  const view = await engine.issue(cert.name);
  await engine.close(); // the process ends before readyAt

  const again = await Engine.open({ dataDir, clock, issuer: new LocalCa({ notBefore: () => clock.now(), lifetimeMs: 86_400_000 }) });
  await again.start();
  const ready = next(again, 'cert:ct-ready');
  clock.set(view.readiness!.readyAt!);
  assert.equal((await ready).serial, view.active!.serial);
  await again.close();
});

test('the clock check: SCTs stamped after this machine received them prove its clock is behind; status shows it, also in a later process', async () => {
  const testCa = createCa('Homeport engine test CA');
  const log = createLog('engine-log', 'Test operator');
  // A CA whose SCTs are 30 s later than this (manual) clock: the clock is at least 30 s behind.
  const sctIssuer = (clock: ManualClock): Issuer => ({
    async issue(req): Promise<IssuedCertificate> {
      const leaf = issueLeaf({
        ca: testCa,
        dnsName: req.names[0],
        notBefore: clock.now() - 3_600_000,
        notAfter: clock.now() + 80 * 86_400_000,
        scts: [{ log, timestamp: clock.now() + 30_000 }],
      });
      return { certPem: leaf.pem, chainPem: testCa.pem, keyPem: leaf.keyPem, ca: 'sct-test-ca' };
    },
  });
  const { dataDir, engine, clock } = await setup({}, sctIssuer);
  const cert = await engine.addCertificate({ names: ['skew.example'] });
  const skew = next(engine, 'clock:skew');
  await engine.issue(cert.name);
  const verdict = await skew;
  assert.equal(verdict.status, 'behind');
  assert.ok(verdict.offsetMs! >= 30_000, JSON.stringify(verdict));
  assert.match(verdict.message, /about 30 s behind the SCT timestamps/);
  const status = await engine.status(cert.name);
  assert.equal(status.clock?.status, 'behind');
  assert.ok(status.ct && 'scts' in status.ct && status.ct.scts.length === 1, 'the SCT is listed');
  await engine.close();

  const later = await Engine.open({ dataDir, clock, issuer: sctIssuer(clock) });
  assert.equal((await later.status(cert.name)).clock?.status, 'behind', 'saved for processes that never talked to a CA');
  await later.close();
});

test('the log list source: the engine refreshes from config ct.logListUrl (loopback here) and reports ct:log-list', async () => {
  const dataDir = path.join(repoRoot, 'main', 'engine', 'ct', 'data');
  const files: Record<string, Buffer> = {
    '/log_list.json': readFileSync(path.join(dataDir, 'log_list.json')),
    '/log_list.sig': readFileSync(path.join(dataDir, 'log_list.sig')),
  };
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url!);
    const body = files[req.url!];
    res.writeHead(body ? 200 : 404).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { engine, clock } = await setup();
    const port = (server.address() as AddressInfo).port;
    await engine.updateConfig((c) => ({ ...c, ct: { ...c.ct, refreshLogList: true, logListUrl: `http://127.0.0.1:${port}/log_list.json` } }));
    await engine.start();
    assert.deepEqual(requests, [], 'the first download waits until start-up work is done');
    const refreshed = next(engine, 'ct:log-list');
    clock.advance(60_000);
    const outcome = await refreshed;
    assert.equal(outcome.status, 'updated', outcome.message);
    assert.deepEqual(requests, ['/log_list.json', '/log_list.sig']);
    await engine.close();
  } finally {
    server.close();
  }
});

/** Certificates from a private test CA whose one SCT comes from a log no list knows: CT-ready only without strict mode. */
function unlistedSctIssuer(name: string) {
  const testCa = createCa(`Homeport ${name} test CA`);
  const unlisted = createLog(`${name}-unlisted-log`, 'Nobody');
  return (clock: ManualClock): Issuer => ({
    async issue(req): Promise<IssuedCertificate> {
      const leaf = issueLeaf({ ca: testCa, dnsName: req.names[0], notBefore: clock.now() - 3_600_000, notAfter: clock.now() + 80 * 86_400_000, scts: [{ log: unlisted, timestamp: clock.now() - 1_000 }] });
      return { certPem: leaf.pem, chainPem: testCa.pem, keyPem: leaf.keyPem, ca: `${name}-test-ca` };
    },
  });
}

test('ct.strictInclusion wraps the gate: without an SCT from a log trusted today it is never ready, and a held first certificate fails with that verdict', async () => {
  const { engine } = await setup({}, unlistedSctIssuer('strict'));
  await engine.updateConfig((c) => ({ ...c, ct: { ...c.ct, strictInclusion: true } }));
  const cert = await engine.addCertificate({ names: ['strict.example'], serving: 'hold' });
  const failed = next(engine, 'cert:failed');
  await assert.rejects(engine.issue(cert.name), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'ct.never-ready');
    assert.match((e as Error).message, /^The certificate issued for strict\.example will never be accepted by browsers, so it is not served: Strict mode: no SCT comes from a log trusted today/);
    return true;
  });
  const view = await engine.status(cert.name);
  assert.equal(view.state, 'failed');
  assert.equal(view.active, undefined);
  assert.equal(view.resting, undefined, 'set aside, not resting forever');
  assert.equal(view.readiness?.readyAt, null);
  assert.match(view.failure!.fix!, /turn off ct\.strictInclusion/);
  assert.equal((await failed).code, 'ct.never-ready');
  assert.equal((await engine.store.history(cert.name)).length, 1, 'its files are kept in history/');
  await engine.close();
});

test('a renewal that will never be CT-ready fails with the verdict, the previous certificate stays active, and the scheduler retries with backoff', async () => {
  const { engine, clock } = await setup({ first: 2 }, unlistedSctIssuer('renewal'));
  const cert = await engine.addCertificate({ names: ['renew.example'] });
  const first = await engine.issue(cert.name);
  assert.equal(first.state, 'active', 'without strict mode the private CA needs no CT');
  await engine.updateConfig((c) => ({ ...c, ct: { ...c.ct, strictInclusion: true } }));
  await engine.start();

  const failures: EngineEvents['cert:failed'][] = [];
  engine.events.on('cert:failed', (e) => failures.push(e));
  await assert.rejects(engine.issue(cert.name), { code: 'ct.never-ready' });
  const failed = await engine.status(cert.name);
  assert.equal(failed.state, 'failed');
  assert.equal(failed.active?.serial, first.active!.serial, 'the previous certificate stays active');
  assert.equal(failed.resting, undefined);
  assert.match(failed.failure!.message, /^The renewed certificate for renew\.example will never be accepted by browsers, so the current one stays active: Strict mode:/);
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.retryAt, failed.failure!.retryAt);
  // The backoff (1 min for a first failure, jitter fixed at 0.5) decides the next attempt.
  const retryAt = Date.parse(failed.failure!.retryAt!);
  assert.equal(retryAt, clock.now() + 60_000);
  assert.equal(engine.nextAttempt(cert.name)?.getTime(), retryAt);

  const second = next(engine, 'cert:failed');
  clock.set(retryAt);
  const again = await second;
  assert.equal(again.code, 'ct.never-ready');
  // The scheduler re-plans after the attempt: wait until its timer is armed.
  for (let turns = 0; engine.nextAttempt(cert.name)?.getTime() === retryAt || !engine.nextAttempt(cert.name); turns++) {
    assert.ok(turns < 100_000, 'the scheduler planned the next attempt');
    await new Promise((r) => setImmediate(r));
  }
  const status = await engine.status(cert.name);
  assert.equal(status.failures, 2, 'never-ready issuances count on: the backoff grows');
  assert.equal(Date.parse(status.failure!.retryAt!), retryAt + 120_000);
  assert.equal(engine.nextAttempt(cert.name)?.getTime(), retryAt + 120_000);
  assert.equal(status.active?.serial, first.active!.serial);
  await engine.close();
});

test('a first certificate that will never be CT-ready is still served under serve-now, and the user is told', async () => {
  const { engine } = await setup({}, unlistedSctIssuer('served'));
  await engine.updateConfig((c) => ({ ...c, ct: { ...c.ct, strictInclusion: true } }));
  const cert = await engine.addCertificate({ names: ['served.example'], serving: 'serve-now' });
  const told = next(engine, 'cert:failed');
  const activated = next(engine, 'cert:activated');
  const view = await engine.issue(cert.name);
  assert.equal((await activated).serial, view.active!.serial, 'served as chosen');
  const failure = await told;
  assert.equal(failure.code, 'ct.never-ready');
  assert.match(failure.message, /^The certificate for served\.example is served as you chose, but browsers will never accept it: Strict mode:/);
  assert.equal(view.state, 'failed');
  assert.ok(view.failure?.retryAt, 'a certificate browsers accept is asked for after the backoff');
  await engine.close();
});
