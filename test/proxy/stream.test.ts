import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as https from 'node:https';
import * as path from 'node:path';
import { TestCa, startUpstream } from './fixtures';

const GiB = 1024 ** 3;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

test('a 1 GiB upload and a 1 GiB download stream through with constant memory', async (t) => {
  const ca = new TestCa();
  const up = await startUpstream((req, res) => {
    if (req.method === 'POST') {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.end(String(n)));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': GiB });
    let sent = 0;
    const pump = () => {
      while (sent < GiB) {
        sent += CHUNK.length;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  const child = fork(path.join(__dirname, 'child-proxy.js'), [
    JSON.stringify({ routes: [{ host: 'big.test', upstreams: [up.url] }], cert: ca.issue('big', ['big.test']) }),
  ]);
  after(() => void child.kill());
  const port = await new Promise<number>((resolve) => child.once('message', (m: { httpsPort: number }) => resolve(m.httpsPort)));
  const rss = () =>
    new Promise<number>((resolve) => {
      const on = (m: { type: string; rss: number }) => {
        if (m.type === 'rss') {
          child.off('message', on);
          resolve(m.rss);
        }
      };
      child.on('message', on);
      child.send('rss');
    });
  const baseline = await rss();
  let peak = baseline;
  const sampler = setInterval(() => void rss().then((r) => (peak = Math.max(peak, r))), 100);

  const opts = { host: '127.0.0.1', port, servername: 'big.test', ca: ca.caPem, agent: false as const, headers: { host: 'big.test' } };
  const uploaded = await new Promise<string>((resolve, reject) => {
    const req = https.request({ ...opts, method: 'POST', path: '/up', headers: { ...opts.headers, 'content-length': GiB } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < GiB) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  assert.equal(uploaded, String(GiB));

  const downloaded = await new Promise<number>((resolve, reject) => {
    https
      .get({ ...opts, path: '/down' }, (res) => {
        let n = 0;
        res.on('data', (d: Buffer) => (n += d.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  assert.equal(downloaded, GiB);
  clearInterval(sampler);
  const growthMb = (peak - baseline) / 1024 / 1024;
  t.diagnostic(`proxy RSS ${(baseline / 1048576).toFixed(0)} MB before, peak ${(peak / 1048576).toFixed(0)} MB while moving 2 GiB`);
  // Buffering either body would cost 1,024 MB; streaming costs a few socket buffers.
  assert.ok(growthMb < 128, `proxy RSS grew by ${growthMb.toFixed(1)} MB while moving 2 GiB`);
  child.send('stop');
});
