import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { TestCa, startProxy, echoUpstream, request, startUpstream } from './fixtures';

const ca = new TestCa();

/** Sends raw bytes and collects everything until the proxy closes (or `ms` pass). */
function raw(connect: () => net.Socket, bytes: string | string[], ms = 5000, gapMs = 0): Promise<{ text: string; closed: boolean; elapsed: number }> {
  return new Promise((resolve) => {
    const start = Date.now();
    const s = connect();
    let text = '';
    const timer = setTimeout(() => finish(false), ms);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed, elapsed: Date.now() - start });
    };
    s.setEncoding('latin1');
    s.on('data', (d: string) => (text += d));
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    const parts = Array.isArray(bytes) ? bytes : [bytes];
    let i = 0;
    const next = () => {
      if (i >= parts.length || s.destroyed) return;
      s.write(parts[i++]!);
      if (gapMs) setTimeout(next, gapMs);
      else next();
    };
    s.once(s instanceof tls.TLSSocket ? 'secureConnect' : 'connect', next);
  });
}

async function setup(settings = {}) {
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url], redirectHttp: false }], { settings });
  p.table.activate(ca.issue('a', ['a.test']));
  const plain = () => net.connect(p.httpPort, '127.0.0.1');
  const secure = () => tls.connect({ port: p.httpsPort, host: '127.0.0.1', servername: 'a.test', ca: ca.caPem, ALPNProtocols: ['http/1.1'] });
  return { up, p, plain, secure };
}

test('a slow-header client is cut off', async () => {
  const { plain, secure } = await setup({ headersTimeoutMs: 400 });
  for (const connect of [plain, secure]) {
    // One header line every 150 ms: each byte resets an idle timer, but not the header deadline.
    const lines = ['GET / HTTP/1.1\r\n', 'Host: a.test\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    const r = await raw(connect, lines, 8000, 150);
    assert.ok(r.closed, 'the proxy closed the connection');
    assert.ok(r.elapsed < 6000, `closed after ${r.elapsed} ms, well before the client finished`);
    assert.doesNotMatch(r.text, /200 OK/);
  }
});

test('an idle TLS handshake is cut off', async () => {
  const { p } = await setup({ handshakeTimeoutMs: 300 });
  const r = await raw(() => net.connect(p.httpsPort, '127.0.0.1'), [], 5000);
  assert.ok(r.closed);
  assert.ok(r.elapsed < 4000);
});

test('request smuggling and malformed requests are rejected before any route', async () => {
  const { up, plain, secure } = await setup();
  const cases: [string, string, RegExp][] = [
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n', /^HTTP\/1\.1 400/],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc', /^HTTP\/1\.1 400/],
    ['obfuscated Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['space before the colon', 'GET / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding : chunked\r\n\r\n', /^HTTP\/1\.1 400/],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['header folding', 'GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n  folded\r\n\r\n', /^HTTP\/1\.1 400/],
    ['no Host', 'GET / HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400/],
    ['absolute-form target (forward proxy use)', 'GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n', /^HTTP\/1\.1 (400|404|421)/],
    ['CONNECT tunnel', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', /^HTTP\/1\.1 (400|404|405|421)/],
    ['oversized headers', `GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431/],
    ['garbage', '\x16\x03\x01 not http at all\r\n\r\n', /^HTTP\/1\.1 400/],
  ];
  for (const connect of [plain, secure]) {
    for (const [name, bytes, expect] of cases) {
      const r = await raw(connect, bytes);
      assert.match(r.text, expect, `${name}: got ${JSON.stringify(r.text.slice(0, 60))}`);
    }
  }
  const smuggled = up.seen.filter((h) => h['content-length'] === '4' || h['transfer-encoding'] !== undefined);
  assert.equal(smuggled.length, 0, 'nothing ambiguous reached the upstream');
  assert.equal(up.seen.length, 0);
});

test('a well-formed chunked request still goes through, re-framed for the upstream', async () => {
  const { plain, up } = await setup();
  const r = await raw(plain, 'POST /c HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
  assert.match(r.text, /^HTTP\/1\.1 200/);
  assert.match(r.text, /"body":"abcde"/);
  assert.equal(up.seen.length, 1);
});

test('graceful shutdown lets a request in flight finish, then closes', async () => {
  const slow = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 400));
  const p = await startProxy([{ host: 'a.test', upstreams: [slow.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  const inFlight = request(p.httpsPort, 'a.test', { ca: ca.caPem });
  await new Promise((r) => setTimeout(r, 100));
  const stopped = p.proxy.stop(5000);
  const r = await inFlight;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'finished');
  await stopped;
  await assert.rejects(request(p.httpsPort, 'a.test', { ca: ca.caPem }), /ECONNREFUSED/);
});

test('a route reload drops no request in flight, even to an upstream that was removed', async () => {
  const slow = await startUpstream((_req, res) => setTimeout(() => res.end('old upstream'), 400));
  const fresh = await echoUpstream('new');
  const p = await startProxy([{ host: 'a.test', upstreams: [slow.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  const inFlight = request(p.httpsPort, 'a.test', { ca: ca.caPem });
  await new Promise((r) => setTimeout(r, 100));
  p.proxy.setRoutes([{ host: 'a.test', upstreams: [fresh.url] }]);
  const next = await request(p.httpsPort, 'a.test', { ca: ca.caPem });
  assert.equal(JSON.parse(next.body).name, 'new', 'new requests use the new route at once');
  const r = await inFlight;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'old upstream');
});
