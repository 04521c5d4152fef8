import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import type { Socket } from 'node:net';
import type { AccessEntry } from '../../main/engine/proxy/access-log';
import { hashPassword } from '../../main/engine/proxy/basic-auth';
import { TestCa, request, startProxy, startUpstream } from './fixtures';

// What upstreams and visitors do at the edges of a request: resets, interim answers, leaving
// half-way, never answering; and what the proxy must then not do (repeat a POST, leak sockets,
// show its internals, hang on shutdown).

const ca = new TestCa();

/** A TLS connection to the proxy for `host`, speaking raw HTTP/1.1. */
function rawTls(port: number, host: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: host, ca: ca.caPem, ALPNProtocols: ['http/1.1'] }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `head` on a raw TLS connection; `answer()` is everything received so far. */
async function rawRequest(port: number, host: string, head: string): Promise<{ client: tls.TLSSocket; answer(): string }> {
  const client = await rawTls(port, host);
  let answer = '';
  client.on('data', (d: Buffer) => (answer += d.toString()));
  client.write(head);
  return { client, answer: () => answer };
}

const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('a reset is retried only for methods that may be repeated: a bodiless POST reaches the upstream once, a DELETE twice', async () => {
  const seen: string[] = [];
  const up = await startUpstream((req) => {
    seen.push(req.method!);
    req.socket.destroy();
  });
  const p = await startProxy([{ host: 'reset.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('reset', ['reset.test']));
  for (const method of ['POST', 'PATCH', 'DELETE']) {
    const r = await request(p.httpsPort, 'reset.test', { ca: ca.caPem, method, headers: { 'content-length': '0' } });
    assert.equal(r.status, 502, method);
  }
  assert.deepEqual(seen, ['POST', 'PATCH', 'DELETE', 'DELETE']);
});

test('103 Early Hints pass on to HTTP/1.1 and HTTP/2 clients, then the real answer; never to HTTP/1.0', async () => {
  const up = await startUpstream((_req, res) => {
    // Two Link lines, the first with two links (as Node's own writeEarlyHints sends a list).
    res.socket!.write('HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style, </app.js>; rel=preload; as=script\r\nLink: </font.woff2>; rel=preload; as=font; crossorigin\r\n\r\n');
    setTimeout(() => res.end('page'), 20);
  });
  const links = /<\/app\.css>; rel=preload; as=style, <\/app\.js>; rel=preload; as=script, <\/font\.woff2>; rel=preload; as=font; crossorigin/;
  const p = await startProxy([{ host: 'hints.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('hints', ['hints.test']));

  const h1 = await new Promise<{ hints: string[]; status: number; body: string }>((resolve, reject) => {
    const hints: string[] = [];
    const req = tls.connect({ host: '127.0.0.1', port: p.httpsPort, servername: 'hints.test', ca: ca.caPem, ALPNProtocols: ['http/1.1'] });
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      for (const m of text.matchAll(/HTTP\/1\.1 103 [^\r]*\r\n((?:[^\r]+\r\n)*)/g)) hints.push(m[1]!);
      const final = /HTTP\/1\.1 (\d{3}) (?!Early)[^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(text);
      resolve({ hints, status: Number(final?.[1]), body: final?.[2] ?? '' });
    });
    req.on('error', reject);
    req.write('GET / HTTP/1.1\r\nhost: hints.test\r\nconnection: close\r\n\r\n');
  });
  assert.equal(h1.hints.length, 1);
  assert.match(h1.hints[0]!, /^link: /i);
  assert.match(h1.hints[0]!, links);
  assert.equal(h1.status, 200);
  assert.match(h1.body, /page/);

  const session = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'hints.test', ca: ca.caPem });
  try {
    const h2 = await new Promise<{ interim: http2.IncomingHttpHeaders[]; status: number; body: string }>((resolve, reject) => {
      const interim: http2.IncomingHttpHeaders[] = [];
      const s = session.request({ ':path': '/', ':authority': 'hints.test' });
      s.on('headers', (h) => interim.push(h));
      let status = 0;
      let body = '';
      s.on('response', (h) => (status = Number(h[':status'])));
      s.setEncoding('utf8');
      s.on('data', (d) => (body += d));
      s.on('end', () => resolve({ interim, status, body }));
      s.on('error', reject);
      s.end();
    });
    assert.equal(h2.interim.length, 1);
    assert.equal(h2.interim[0]![':status'], 103);
    assert.match(String(h2.interim[0]!.link), links);
    assert.equal(h2.status, 200);
    assert.equal(h2.body, 'page');
  } finally {
    session.close();
  }

  const old = await rawTls(p.httpsPort, 'hints.test');
  let text = '';
  old.on('data', (d: Buffer) => (text += d.toString()));
  old.write('GET / HTTP/1.0\r\nhost: hints.test\r\n\r\n');
  await new Promise((r) => old.once('close', r));
  assert.match(text, /^HTTP\/1\.1 200 /, 'an HTTP/1.0 client gets the answer without a 103 before it');
  assert.match(text, /page$/);
});

test('the 502 page names the route and what went wrong, not the upstream\'s address; the access log has it all', async () => {
  const entries: AccessEntry[] = [];
  const p = await startProxy([{ host: 'down.test', upstreams: ['http://127.0.0.1:1'] }], { extra: { log: (e) => entries.push(e) } });
  p.table.activate(ca.issue('down', ['down.test']));
  const r = await request(p.httpsPort, 'down.test', { ca: ca.caPem });
  assert.equal(r.status, 502);
  assert.match(r.body, /service behind down\.test: the connection was refused/);
  assert.doesNotMatch(r.body, /127\.0\.0\.1|:1\b|ECONNREFUSED/);
  await until('the request is logged', () => entries.length === 1);
  assert.equal(entries[0]!.status, 502);
  assert.match(entries[0]!.error ?? '', /^http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
});

/** An upstream that takes WebSocket upgrades and answers them after `delayMs` (or never). */
async function slowWebSocketUpstream(delayMs: number | 'never') {
  const sockets: Socket[] = [];
  const closed: Socket[] = [];
  const server = http.createServer();
  server.on('upgrade', (_req, socket: Socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    // Read, so that the proxy hanging up is noticed here.
    socket.on('end', () => socket.destroy());
    socket.once('close', () => closed.push(socket));
    socket.resume();
    if (delayMs === 'never') return;
    setTimeout(() => {
      if (!socket.destroyed) socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    }, delayMs);
  });
  const up = await startUpstream(() => {}, server, false);
  // Upgraded sockets are no longer the server's to close.
  after(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return { ...up, sockets, isClosed: (i: number) => closed.includes(sockets[i]!) };
}

const UPGRADE = 'GET /socket HTTP/1.1\r\nhost: ws.test\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

test('a visitor who leaves before the upstream answers a WebSocket upgrade takes the upstream connection along (HTTP/1.1 and HTTP/2)', async () => {
  // The upstream never answers and the head timeout (20 s) is far off: only the visitor leaving can end it.
  const up = await slowWebSocketUpstream('never');
  const p = await startProxy([{ host: 'ws.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('ws', ['ws.test']));
  const open = () => p.proxy.stats().find((s) => s.route === 'ws.test')!.openUpgrades;

  const client = await rawTls(p.httpsPort, 'ws.test');
  client.write(UPGRADE);
  await until('the upstream has the upgrade', () => up.sockets.length === 1);
  client.destroy();
  await until('the upstream connection is closed', () => up.isClosed(0));
  assert.equal(open(), 0);

  const session = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'ws.test', ca: ca.caPem });
  try {
    await new Promise<void>((r) => session.once('remoteSettings', () => r()));
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/socket', ':scheme': 'https', ':authority': 'ws.test', 'sec-websocket-version': '13' });
    stream.on('error', () => {});
    await until('the upstream has the second upgrade', () => up.sockets.length === 2);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await until('the second upstream connection is closed', () => up.isClosed(1));
    assert.equal(open(), 0);
  } finally {
    session.destroy();
  }
});

test('an upstream that never answers a WebSocket upgrade: 502 after the head timeout, and its connection closed', async () => {
  const up = await slowWebSocketUpstream('never');
  const p = await startProxy([{ host: 'ws.test', upstreams: [up.url] }], { settings: { headersTimeoutMs: 300 } });
  p.table.activate(ca.issue('ws-never', ['ws.test']));
  const { client, answer } = await rawRequest(p.httpsPort, 'ws.test', UPGRADE);
  await new Promise((r) => client.once('close', r));
  assert.match(answer(), /^HTTP\/1\.1 502 /);
  assert.match(answer(), /service behind ws\.test: it did not answer in time/);
  await until('the upstream connection is closed', () => up.isClosed(0));
});

test('stopping the proxy closes open WebSocket tunnels at once instead of waiting out the drain', async () => {
  const up = await slowWebSocketUpstream(0);
  const p = await startProxy([{ host: 'ws.test', upstreams: [up.url] }], { autoStop: false });
  p.table.activate(ca.issue('ws-stop', ['ws.test']));
  const { client, answer } = await rawRequest(p.httpsPort, 'ws.test', UPGRADE);
  await until('the tunnel is open', () => answer().startsWith('HTTP/1.1 101'));
  const clientClosed = new Promise((r) => client.once('close', r));
  // A drain far longer than the test's own timeout: only closing the tunnel lets stop() finish.
  await p.proxy.stop(600_000);
  await clientClosed;
  await until('the upstream side is closed', () => up.isClosed(0));
});

test('a visitor who leaves during the password check: nothing is forwarded, the request is still counted', async () => {
  let reached = 0;
  const up = await startUpstream((_req, res) => {
    reached++;
    res.end('x'.repeat(1 << 20));
  });
  const p = await startProxy([{ host: 'auth.test', upstreams: [up.url], basicAuth: { realm: 'home', users: [{ name: 'ann', hash: await hashPassword('secret') }] } }]);
  p.table.activate(ca.issue('auth', ['auth.test']));
  const client = await rawTls(p.httpsPort, 'auth.test');
  client.write(`GET / HTTP/1.1\r\nhost: auth.test\r\nauthorization: Basic ${Buffer.from('ann:secret').toString('base64')}\r\n\r\n`);
  // scrypt takes tens of milliseconds: leave while it runs.
  await new Promise((r) => setTimeout(r, 5));
  client.destroy();
  const stats = () => p.proxy.stats().find((s) => s.route === 'auth.test')!;
  await until('the request is counted', () => stats().requests === 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(reached, 0, 'the upstream never got a request nobody would read');
});

test('quiet WebSocket tunnels outlive the idle timeout over HTTP/1.1 and HTTP/2; an idle HTTP/2 session without one still closes', async () => {
  const up = await slowWebSocketUpstream(0);
  const idleTimeoutMs = 300;
  const p = await startProxy([{ host: 'ws.test', upstreams: [up.url] }], { settings: { idleTimeoutMs } });
  p.table.activate(ca.issue('ws-idle', ['ws.test']));

  const { client, answer } = await rawRequest(p.httpsPort, 'ws.test', UPGRADE);
  await until('the HTTP/1.1 tunnel is open', () => answer().startsWith('HTTP/1.1 101'));

  const tunnelSession = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'ws.test', ca: ca.caPem });
  const idleSession = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'ws.test', ca: ca.caPem });
  try {
    await new Promise<void>((r) => tunnelSession.once('remoteSettings', () => r()));
    const stream = tunnelSession.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/socket', ':scheme': 'https', ':authority': 'ws.test', 'sec-websocket-version': '13' });
    stream.on('error', () => {});
    const status = await new Promise((r) => stream.once('response', (h) => r(h[':status'])));
    assert.equal(status, 200);
    const idleClosed = new Promise((r) => idleSession.once('close', r));
    idleSession.request({ ':path': '/none', ':authority': 'nothing.test' }).on('error', () => {}).resume().end();

    await new Promise((r) => setTimeout(r, idleTimeoutMs * 4));
    assert.ok(!client.destroyed, 'the HTTP/1.1 tunnel is open');
    assert.ok(!stream.destroyed && !tunnelSession.destroyed, 'the HTTP/2 tunnel is open');
    assert.ok(!up.isClosed(0) && !up.isClosed(1), 'both upstream connections are open');
    assert.equal(p.proxy.stats().find((s) => s.route === 'ws.test')!.openUpgrades, 2);
    await idleClosed;
  } finally {
    client.destroy();
    tunnelSession.destroy();
    idleSession.destroy();
  }
});

test('OPTIONS * is answered by the proxy, which names the methods it passes on', async () => {
  let reached = 0;
  const up = await startUpstream((_req, res) => {
    reached++;
    res.end();
  });
  const entries: AccessEntry[] = [];
  const p = await startProxy([{ host: 'opt.test', upstreams: [up.url] }], { extra: { log: (e) => entries.push(e) } });
  p.table.activate(ca.issue('opt', ['opt.test']));
  const { client, answer } = await rawRequest(p.httpsPort, 'opt.test', 'OPTIONS * HTTP/1.1\r\nhost: opt.test\r\nconnection: close\r\n\r\n');
  await new Promise((r) => client.once('close', r));
  assert.match(answer(), /^HTTP\/1\.1 204 /);
  assert.match(answer(), /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE\r\n/i);
  assert.equal(reached, 0);
  await until('the request is logged', () => entries.length === 1);
  assert.equal(entries[0]!.status, 204);
});
