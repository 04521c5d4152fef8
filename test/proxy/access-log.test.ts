import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileAccessLog, type AccessEntry } from '../../main/engine/proxy/access-log';
import { CertificateTable } from '../../main/engine/proxy/cert-source';
import { BroadcastChallengeStore, ProxyCluster } from '../../main/engine/proxy/cluster';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { TestCa, request, startProxy, startUpstream } from './fixtures';

const ca = new TestCa();

const entry = (p: string): AccessEntry => ({ time: '', remote: '', proto: 'h2', method: 'GET', host: 'a.test', path: p, status: 200, bytes: 0, ms: 0 });

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as AccessEntry).path);

for (const [what, file] of [
  ['a full disk (/dev/full)', () => '/dev/full'],
  ['a path that is a directory', () => tmpDir()],
] as const) {
  test(`an access log on ${what}: the proxy keeps serving, the problem is told once`, async () => {
    const notices: string[] = [];
    // Checked often, so the log is opened again (and fails again) while the requests run.
    const log = fileAccessLog(file(), { notice: (l) => notices.push(l), checkMs: 20 });
    const up = await startUpstream((_req, res) => res.end('ok'));
    const p = await startProxy([{ host: 'log.test', upstreams: [up.url] }], { extra: { log: log.log } });
    p.table.activate(ca.issue('log', ['log.test']));
    for (let i = 0; i < 10; i++) {
      assert.equal((await request(p.httpsPort, 'log.test', { ca: ca.caPem })).status, 200);
      await new Promise((r) => setTimeout(r, 10));
    }
    await until('the problem is told', () => notices.length > 0);
    assert.equal(notices.length, 1, notices.join('\n'));
    assert.match(notices[0]!, /cannot be written \((ENOSPC|EISDIR)\); requests are served/);
    await log.close();
  });
}

test('an access log that can be written again says how many lines were dropped', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'access.log');
  mkdirSync(file);
  const notices: string[] = [];
  const log = fileAccessLog(file, { notice: (l) => notices.push(l), checkMs: 20 });
  log.log(entry('/lost-1'));
  log.log(entry('/lost-2'));
  rmdirSync(file);
  await new Promise((r) => setTimeout(r, 100));
  log.log(entry('/kept'));
  await until('the recovery is told', () => notices.length === 2);
  assert.match(notices[1]!, /is written again; 2 lines were dropped/);
  await log.close();
  assert.deepEqual(lines(file), ['/kept']);
});

test('an access log moved away (logrotate) is followed by a new file at its path', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'access.log');
  const log = fileAccessLog(file, { notice: () => assert.fail('no problem to tell'), checkMs: 20 });
  log.log(entry('/before'));
  await until('the line is written', () => existsSync(file) && readFileSync(file, 'utf8').length > 0);
  renameSync(file, `${file}.1`);
  await until('a new file is opened', () => existsSync(file));
  log.log(entry('/after'));
  await log.close();
  assert.deepEqual(lines(`${file}.1`), ['/before']);
  assert.deepEqual(lines(file), ['/after']);
});

test('a disk that stalls holds a bounded backlog: later lines are dropped and counted', async () => {
  requireTool('mkfifo');
  const fifo = path.join(tmpDir(), 'stalled');
  execFileSync('mkfifo', [fifo]);
  // A reader that never reads: writes block once the pipe is full, as on a hung disk.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const notices: string[] = [];
  const log = fileAccessLog(fifo, { notice: (l) => notices.push(l), checkMs: 60_000 });
  for (let i = 0; i < 30_000; i++) log.log(entry(`/${i}`.padEnd(100, 'x')));
  assert.equal(notices.length, 1);
  assert.match(notices[0]!, /cannot be written \(the disk does not keep up\)/);
  const closed = log.close();
  closeSync(reader);
  await closed;
});

test('a helper process whose access log cannot be written keeps serving and tells the primary', { timeout: 30_000 }, async () => {
  const notices: string[] = [];
  const cluster = new ProxyCluster({
    workers: 2,
    routes: [],
    settings: { listen: ['127.0.0.1'], accessLog: tmpDir() },
    httpPort: 0,
    httpsPort: 0,
    certificates: new CertificateTable(),
    challenges: new BroadcastChallengeStore(),
    notice: (l) => notices.push(l),
  });
  after(() => cluster.stop(100));
  await cluster.start();
  await until('the helper tells', () => notices.length === 1);
  assert.match(notices[0]!, /cannot be written \(EISDIR\)/);
  const pids = cluster.pids();
  await cluster.settled();
  assert.deepEqual(cluster.pids(), pids, 'the helper still runs');
});
