import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ManualClock } from '../../main/engine/clock';
import { EngineEmitter, EngineEvents } from '../../main/engine/events';
import { DriftWatch } from '../../main/engine/preflight/drift';
import { runPreflight } from '../../main/engine/preflight/report';
import { fixedAddresses } from '../../main/engine/preflight/addresses';
import { tmpDir } from '../helpers/tmp';
import { startWorld, World, HOST_V4, HOST_V6 } from './zones';
import { freePort } from '../helpers/ports';

// Drift watch against a real BIND whose zone changes under it (zone file rewritten, SIGHUP).
let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world?.stop());

const LE = { id: 'letsencrypt', displayName: "Let's Encrypt", identities: ['letsencrypt.org'], issuesForIp: true };
const HOUR = 3600_000;

async function reloadWith(line: string): Promise<void> {
  const zone = path.join(world.parent.dir, 'example.com.zone');
  await fs.appendFile(zone, `${line}\n`);
  const pid = Number(readFileSync(path.join(world.parent.dir, 'named.pid'), 'utf8'));
  process.kill(pid, 'SIGHUP');
  // named reloads asynchronously; the record's appearance is the signal.
  for (let i = 0; i < 100; i++) {
    const r = await world.parent.query('www.example.com', 'AAAA');
    if ((r.answers ?? []).length > 1) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('named did not reload the zone');
}

test('a new AAAA elsewhere and a changed public address raise dns:drift once, on schedule and before renewal', async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 5));
  const events = new EngineEmitter();
  const seen: EngineEvents['dns:drift'][] = [];
  events.on('dns:drift', (d) => seen.push(d));
  let addresses = [HOST_V4, HOST_V6];
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const file = path.join(tmpDir(), 'preflight-baseline.json');
  const make = () =>
    new DriftWatch({
      clock,
      events,
      intervalMs: 6 * HOUR,
      names: () => ['www.example.com'],
      file,
      check: (names) => runPreflight({ names, ca: LE, dns: world.dns, addresses: fixedAddresses(addresses), httpPort, httpsPort }),
    });
  const watch = make();
  assert.deepEqual(await watch.checkNow(), [], 'the first run only records the baseline');

  await reloadWith('www IN AAAA 2001:db8::99');
  watch.start();
  const next = new Promise<EngineEvents['dns:drift']>((resolve) => {
    const off = events.on('dns:drift', (d) => {
      off();
      resolve(d);
    });
  });
  clock.advance(6 * HOUR);
  const d = await next;
  watch.stop();
  assert.equal(d.name, 'www.example.com');
  assert.equal(d.checkId, 'dns');
  assert.equal(d.before, `pass: www.example.com resolves to this host (A ${HOST_V4}, AAAA ${HOST_V6}).`);
  assert.match(d.after, /^fail: www\.example\.com has an AAAA record 2001:db8::99 that is not this host: Let's Encrypt prefers IPv6 and will fail\./);
  assert.match(d.fix ?? '', /Remove the AAAA record/);

  // checkNow during the scheduled run joins it (one run at a time) and sees the same drift:
  // the worse challenge check comes with it.
  assert.deepEqual((await watch.checkNow()).map((x) => x.checkId), ['dns', 'challenge']);
  // Still broken at the next run: not reported again.
  seen.length = 0;
  assert.deepEqual(await watch.checkNow(), []);

  // Before a renewal, the ISP hands out a new address: reported, with the report for the renewal.
  addresses = ['198.51.100.77', HOST_V6];
  const restarted = make(); // the baseline survives a restart
  const report = await restarted.beforeRenewal(['www.example.com']);
  assert.equal(report.verdict, 'blocked');
  const ids = seen.map((x) => x.checkId).sort();
  assert.deepEqual(ids, ['public-address'], JSON.stringify(seen, null, 1));
  assert.match(seen[0].after, /^pass: This host's public address is 198\.51\.100\.77 and 2001:db8::10\.$/);
});
