import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ManualClock } from '../../main/engine/clock';
import { EngineEmitter } from '../../main/engine/events';
import { parseLogList } from '../../main/engine/ct/log-list';
import { LogListSource } from '../../main/engine/ct/log-list-refresh';
import { tmpDir } from '../helpers/tmp';
import { createLog, logListJson } from './helpers/test-pki';

// A loopback server speaking like www.gstatic.com: the list, its detached signature, ETags.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const logA = createLog('a', 'A');
const logB = createLog('b', 'B');

const OLD = Date.UTC(2026, 0, 1);
const NEW = Date.UTC(2026, 1, 1);
const initial = parseLogList(logListJson([{ log: logA, state: 'usable', since: 0 }], OLD), 'chrome');

interface Served {
  json: Buffer;
  sig: Buffer;
  etag: string;
}
function signed(timestamp: number, tamper = false): Served {
  const json = Buffer.from(logListJson([{ log: logA, state: 'usable', since: 0 }, { log: logB, state: 'usable', since: 0 }], timestamp));
  const sig = sign('sha256', json, privateKey);
  if (tamper) json[json.indexOf('usable')] = 0x55;
  return { json, sig, etag: `"${timestamp}${tamper ? 't' : ''}"` };
}

let served: Served = signed(NEW);
let appleBody = '';
const requests: { url: string; ifNoneMatch?: string }[] = [];
const server = http.createServer((req, res) => {
  requests.push({ url: req.url!, ifNoneMatch: req.headers['if-none-match'] });
  if (req.url === '/log_list.json') {
    if (req.headers['if-none-match'] === served.etag) return res.writeHead(304).end();
    return res.writeHead(200, { etag: served.etag, 'content-type': 'application/json' }).end(served.json);
  }
  if (req.url === '/log_list.sig') return res.writeHead(200).end(served.sig);
  if (req.url === '/apple.json') return res.writeHead(200, { etag: '"apple"' }).end(appleBody);
  res.writeHead(404).end();
});
const ready = new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
after(() => server.close());
const base = async () => {
  await ready;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

async function source(dir: string, clock = new ManualClock(NEW + 1000), extra: { appleUrl?: string } = {}) {
  return new LogListSource({ dir, chromeUrl: `${await base()}/log_list.json`, publicKey: publicPem, clock, initial, ...extra });
}

test('refresh: a verified newer list replaces the one in use and is kept on disk (0600)', async () => {
  served = signed(NEW);
  const dir = tmpDir();
  const src = await source(dir);
  assert.equal(src.lists().chrome.logs.size, 1);
  const [outcome] = await src.refresh();
  assert.equal(outcome.status, 'updated', outcome.message);
  assert.equal(src.lists().chrome.logs.size, 2);
  assert.equal(statSync(path.join(dir, 'log_list.json')).mode & 0o777, 0o600);
  assert.ok(existsSync(path.join(dir, 'log_list.sig')));
});

test('conditional GET: the ETag goes back as If-None-Match and a 304 keeps the list', async () => {
  served = signed(NEW);
  const src = await source(tmpDir());
  await src.refresh();
  requests.length = 0;
  const [outcome] = await src.refresh();
  assert.equal(outcome.status, 'not-modified');
  assert.deepEqual(requests, [{ url: '/log_list.json', ifNoneMatch: served.etag }]);
  assert.equal(src.lists().chrome.logs.size, 2);
});

test('a list whose signature fails is rejected and the list in use stays', async () => {
  served = signed(NEW, true);
  const dir = tmpDir();
  const src = await source(dir);
  const [outcome] = await src.refresh();
  assert.equal(outcome.status, 'rejected');
  assert.match(outcome.message, /signature does not verify/);
  assert.equal(src.lists().chrome.timestamp, OLD);
  assert.equal(existsSync(path.join(dir, 'log_list.json')), false);
});

test('an older list than the one in use is not adopted (no rollback)', async () => {
  served = signed(OLD - 86_400_000);
  const src = await source(tmpDir());
  const [outcome] = await src.refresh();
  assert.equal(outcome.status, 'rejected');
  assert.match(outcome.message, /older than the one in use/);
  assert.equal(src.lists().chrome.timestamp, OLD);
});

test('the last good copy is loaded at start, after a restart', async () => {
  served = signed(NEW);
  const dir = tmpDir();
  await (await source(dir)).refresh();
  const restarted = await source(dir);
  await restarted.load();
  assert.equal(restarted.lists().chrome.timestamp, NEW);
});

/** Records when timers are due, so the schedule itself can be asserted. */
class SpyClock extends ManualClock {
  dues: number[] = [];
  override at(t: number, fn: () => void) {
    this.dues.push(t);
    return super.at(t, fn);
  }
}

test('daily: due at once when never checked, then a day after each check; an unreachable server keeps the list', async () => {
  served = signed(NEW);
  const start = NEW + 1000;
  const clock = new SpyClock(start);
  const dir = tmpDir();
  const events = new EngineEmitter();
  const announced: string[] = [];
  events.on('ct:log-list', (o) => announced.push(`${o.list}:${o.status}`));
  const src = new LogListSource({ dir, chromeUrl: `${await base()}/log_list.json`, publicKey: publicPem, clock, initial, events });
  let waiter: (status: string) => void = () => {};
  const next = () => new Promise<string>((r) => (waiter = r));
  await src.start((o) => waiter(o[0].status));
  assert.deepEqual(clock.dues, [start]);
  let outcome = next();
  clock.advance(0);
  assert.equal(await outcome, 'updated');
  assert.deepEqual(clock.dues, [start, start + 86_400_000]);
  outcome = next();
  clock.set(start + 86_400_000);
  assert.equal(await outcome, 'not-modified');
  assert.equal(clock.dues.at(-1), start + 2 * 86_400_000);
  assert.deepEqual(announced, ['chrome:updated', 'chrome:not-modified']);
  src.stop();

  const offline = new LogListSource({ dir, chromeUrl: 'http://127.0.0.1:9/log_list.json', publicKey: publicPem, clock, initial });
  await offline.load();
  const [failed] = await offline.refresh();
  assert.equal(failed.status, 'failed');
  assert.match(failed.message, /could not be downloaded/);
  assert.equal(offline.lists().chrome.timestamp, NEW);
});

test("Apple's list is fetched too when configured", async () => {
  served = signed(NEW);
  appleBody = JSON.stringify({ $schema: 'x', assetVersion: 3, operators: JSON.parse(logListJson([{ log: logB, state: 'usable', since: 0 }])).operators });
  const src = await source(tmpDir(), undefined, { appleUrl: `${await base()}/apple.json` });
  const outcomes = await src.refresh();
  assert.deepEqual(outcomes.map((o) => o.status), ['updated', 'updated']);
  assert.equal(src.lists().apple?.source, 'apple');
  assert.equal(src.lists().apple?.logs.size, 1);
});
