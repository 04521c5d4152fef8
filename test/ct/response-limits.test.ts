import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { ManualClock } from '../../main/engine/clock';
import { isHomeportError } from '../../main/engine/errors';
import { LOG_RESPONSE_LIMIT } from '../../main/engine/ct/log-fetch';
import { parseLogList } from '../../main/engine/ct/log-list';
import { LOG_LIST_MAX_BYTES, LogListSource } from '../../main/engine/ct/log-list-refresh';
import { Rfc6962Client } from '../../main/engine/ct/rfc6962-client';
import { StaticCtClient } from '../../main/engine/ct/static-ct';
import { tmpDir } from '../helpers/tmp';
import { createLog, logListJson } from './helpers/test-pki';

// A loopback log and list server that answers with an endless body (up to FLOOD_BYTES, so a
// client without a limit finishes reading it and the test still ends).
const FLOOD_BYTES = 64 * 1024 * 1024;
/** Room for what the kernel and the HTTP stack buffer between the two ends before the cut. */
const IN_FLIGHT = 16 * 1024 * 1024;

interface Flood {
  sent: number;
  /** True when the client closed the connection before the whole flood was sent. */
  cut: Promise<boolean>;
}
const floods: Flood[] = [];

function flood(res: http.ServerResponse, status: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const f: Flood = { sent: 0, cut: new Promise((resolve) => res.on('close', () => resolve(!res.writableFinished))) };
  floods.push(f);
  res.writeHead(status, { 'content-type': 'application/json' });
  const pump = () => {
    while (f.sent < FLOOD_BYTES) {
      f.sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

const server = http.createServer((req, res) => flood(res, req.url!.startsWith('/missing/') ? 404 : 200));
const ready = new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
after(() => server.close());
const base = async () => {
  await ready;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

async function assertCut(limit: number): Promise<void> {
  const f = floods.at(-1)!;
  assert.equal(await f.cut, true, 'the connection was cut before the flood ended');
  assert.ok(f.sent < limit + IN_FLIGHT, `${f.sent} bytes sent for a limit of ${limit}`);
}

test('an RFC 6962 log answering get-sth with an endless body: a bad-response error, the connection cut', async () => {
  const client = new Rfc6962Client('Flood', `${await base()}/rfc6962/`, key);
  await assert.rejects(client.getSth(), (e: unknown) => {
    assert.ok(isHomeportError(e) && e.code === 'ct.log-bad-response', String(e));
    assert.match(e.message, /The CT log Flood sent a response Homeport cannot use: .*get-sth answered with more than 64 KB/);
    return true;
  });
  await assertCut(LOG_RESPONSE_LIMIT.json);
});

test('static-ct: an endless checkpoint or hash tile is a bad response; an oversized 404 page still means "no such tile"', async () => {
  const url = await base();
  const client = new StaticCtClient('Tiles', `${url}/static/`, 'https://tiles.example/', key);
  await assert.rejects(client.checkpoint(), (e: unknown) => isHomeportError(e) && e.code === 'ct.log-bad-response' && /more than 64 KB/.test(e.message));
  await assertCut(LOG_RESPONSE_LIMIT.checkpoint);
  await assert.rejects(client.tile('tile/0/000'), (e: unknown) => isHomeportError(e) && e.code === 'ct.log-bad-response' && /more than 8 KB/.test(e.message));
  await assertCut(LOG_RESPONSE_LIMIT.hashTile);
  const missing = new StaticCtClient('Tiles', `${url}/missing/`, 'https://tiles.example/', key);
  assert.equal(await missing.tile('tile/0/000.p/5'), null);
  await assertCut(LOG_RESPONSE_LIMIT.hashTile);
});

test('a log list server sending more than 8 MB: the refresh fails plainly and the list in use stays', async () => {
  const log = createLog('a', 'A');
  const initial = parseLogList(logListJson([{ log, state: 'usable', since: 0 }]), 'chrome');
  const source = new LogListSource({ dir: tmpDir(), chromeUrl: `${await base()}/log_list.json`, clock: new ManualClock(Date.UTC(2026, 1, 1)), initial });
  const [outcome] = await source.refresh();
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.message, /could not be downloaded from http:\/\/127\.0\.0\.1:\d+\/log_list\.json \(it sent more than 8 MB\)/);
  await assertCut(LOG_LIST_MAX_BYTES);
  assert.equal(source.lists().chrome, initial);
});
