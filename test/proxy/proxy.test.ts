import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import * as http2 from 'node:http2';
import { X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import { WebSocketServer, WebSocket } from 'ws';
import { TestCa, startUpstream, startProxy, curl, request, echoUpstream } from './fixtures';
import { hashPassword } from '../../main/engine/proxy/basic-auth';
import { tmpDir } from '../helpers/tmp';
import { checkRoutes, Proxy } from '../../main/engine/proxy/proxy';
import type { AccessEntry } from '../../main/engine/proxy/access-log';
import { CertificateTable } from '../../main/engine/proxy/cert-source';

const ca = new TestCa();

function peerCert(port: number, servername: string): Promise<{ cn: string; serial: string } | Error> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.caPem, ALPNProtocols: ['http/1.1'] }, () => {
      const c = s.getPeerCertificate();
      s.destroy();
      resolve({ cn: String(c.subject.CN), serial: c.serialNumber });
    });
    s.on('error', (e) => resolve(e));
  });
}

test('HTTP redirects to HTTPS keeping path and query; a route can opt out', async () => {
  const up = await echoUpstream();
  const p = await startProxy([
    { host: 'a.test', upstreams: [up.url] },
    { host: 'plain.test', upstreams: [up.url], redirectHttp: false },
  ]);
  const get = await request(p.httpPort, 'a.test', { tls: false, path: '/some/where?x=1&y=%20' });
  assert.equal(get.status, 301);
  assert.equal(get.headers.location, `https://a.test:${p.httpsPort}/some/where?x=1&y=%20`);
  const post = await request(p.httpPort, 'a.test', { tls: false, method: 'POST', path: '/form', body: 'x' });
  assert.equal(post.status, 308, 'a POST keeps its method and body through the redirect');
  const plain = await request(p.httpPort, 'plain.test', { tls: false, path: '/hello' });
  assert.equal(plain.status, 200);
  assert.equal(JSON.parse(plain.body).headers['x-forwarded-proto'], 'http');
  const unknown = await request(p.httpPort, 'other.test', { tls: false });
  assert.equal(unknown.status, 404);
  assert.match(unknown.body, /does not serve other\.test/);
});

test('port 80 answers pending http-01 challenges before redirecting', async () => {
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }]);
  p.challenges.setHttp01('tok-123', 'tok-123.thumbprint');
  const r = await request(p.httpPort, 'a.test', { tls: false, path: '/.well-known/acme-challenge/tok-123' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'tok-123.thumbprint');
  // Also for a name that has no route yet (first issuance comes before the route is used).
  const other = await request(p.httpPort, 'new.test', { tls: false, path: '/.well-known/acme-challenge/tok-123' });
  assert.equal(other.body, 'tok-123.thumbprint');
  p.challenges.deleteHttp01('tok-123');
  const gone = await request(p.httpPort, 'a.test', { tls: false, path: '/.well-known/acme-challenge/tok-123' });
  assert.equal(gone.status, 301, 'once removed, the path is an ordinary request again');
});

test('SNI picks the certificate: two names, a wildcard, exact before wildcard, unknown refused', async () => {
  const p = await startProxy([]);
  p.table.activate(ca.issue('one', ['one.test']));
  p.table.activate(ca.issue('two', ['two.test']));
  p.table.activate(ca.issue('wild', ['*.w.test']));
  p.table.activate(ca.issue('exact', ['x.w.test']));
  assert.deepEqual(((await peerCert(p.httpsPort, 'one.test')) as { cn: string }).cn, 'one.test');
  assert.deepEqual(((await peerCert(p.httpsPort, 'two.test')) as { cn: string }).cn, 'two.test');
  assert.deepEqual(((await peerCert(p.httpsPort, 'any.w.test')) as { cn: string }).cn, '*.w.test');
  assert.deepEqual(((await peerCert(p.httpsPort, 'x.w.test')) as { cn: string }).cn, 'x.w.test');
  assert.ok((await peerCert(p.httpsPort, 'a.b.w.test')) instanceof Error, 'a wildcard covers one label only');
  const refused = await peerCert(p.httpsPort, 'unknown.test');
  assert.ok(refused instanceof Error, 'unknown names are refused');
  assert.equal((refused as NodeJS.ErrnoException).code, 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME', 'with the unrecognized_name alert');
  const noSni = await curl(`https://127.0.0.1:${p.httpsPort}/`, ['-k']);
  assert.notEqual(noSni.code, 0, 'a client without SNI is refused too');
});

test('every resumption renews the ticket; tickets outlive one key rotation, not two', async () => {
  const p = await startProxy([]);
  p.table.activate(ca.issue('r', ['r.test']));
  // A TLS 1.3 client spends a ticket once: it resumes next time only if the server sent a new one.
  const connect = (session?: Buffer) =>
    new Promise<{ reused: boolean; session?: Buffer }>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: p.httpsPort, servername: 'r.test', ca: ca.caPem, session, ALPNProtocols: ['http/1.1'] });
      let next: Buffer | undefined;
      s.on('session', (b: Buffer) => (next = b));
      s.once('secureConnect', () =>
        setTimeout(() => {
          resolve({ reused: s.isSessionReused(), session: next });
          s.destroy();
        }, 100),
      );
      s.on('error', reject);
    });
  const first = await connect();
  assert.equal(first.reused, false);
  assert.ok(first.session, 'a full handshake hands out a ticket');
  let session = first.session;
  for (let i = 1; i <= 3; i++) {
    const again = await connect(session);
    assert.equal(again.reused, true, `reconnect ${i} resumes`);
    assert.ok(again.session, `reconnect ${i} gets a fresh ticket`);
    session = again.session;
  }
  p.table.rotateTicketKeys();
  const afterOne = await connect(session);
  assert.equal(afterOne.reused, true, 'a ticket sealed with the keys just retired still resumes');
  p.table.rotateTicketKeys();
  p.table.rotateTicketKeys();
  const afterTwo = await connect(afterOne.session);
  assert.equal(afterTwo.reused, false, 'one sealed with keys retired two rotations ago does not');
  assert.ok(afterTwo.session);
  assert.equal((await connect(afterTwo.session)).reused, true, 'new tickets resume again');
});

test('acme-tls/1 handshakes get the challenge certificate; visitors of a live name keep theirs', async () => {
  const p = await startProxy([]);
  p.table.activate(ca.issue('live', ['live.test']));
  const answer = ca.issue('answer', ['live.test', 'new.test']);
  const challengeCtx = tls.createSecureContext({ cert: answer.certPem, key: answer.keyPem });
  p.challenges.setTlsAlpn01('live.test', challengeCtx);
  p.challenges.setTlsAlpn01('new.test', challengeCtx);
  const hello = (servername: string, alpn: string[], maxVersion: tls.SecureVersion = 'TLSv1.3') =>
    new Promise<{ serial: string; alpn: string | false | null }>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: p.httpsPort, servername, ALPNProtocols: alpn, maxVersion, rejectUnauthorized: false }, () => {
        resolve({ serial: s.getPeerCertificate().serialNumber, alpn: s.alpnProtocol });
        s.destroy();
      });
      s.on('error', reject);
    });
  const serial = (pem: string) => new X509Certificate(pem).serialNumber;
  assert.deepEqual(await hello('live.test', ['acme-tls/1']), { serial: serial(answer.certPem), alpn: 'acme-tls/1' });
  assert.deepEqual(await hello('live.test', ['h2', 'http/1.1']), { serial: serial(p.table.certificates()[0]!.certPem), alpn: 'h2' });
  assert.deepEqual(await hello('new.test', ['acme-tls/1']), { serial: serial(answer.certPem), alpn: 'acme-tls/1' });
  assert.deepEqual(await hello('new.test', ['acme-tls/1'], 'TLSv1.2'), { serial: serial(answer.certPem), alpn: 'acme-tls/1' }, 'TLS 1.2 too, for a name not yet served');
  p.challenges.deleteTlsAlpn01('new.test');
  await assert.rejects(hello('new.test', ['acme-tls/1']), /no application protocol/, 'once the challenge is over, acme-tls/1 is no longer offered');
});

test('unknown names can get a default certificate instead, by setting', async () => {
  const p = await startProxy([], { settings: { unknownName: 'default-certificate', defaultCertificate: 'fallback' } });
  p.table.activate(ca.issue('fallback', ['fallback.test']));
  p.table.setDefault('fallback');
  const got = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: p.httpsPort, servername: 'unknown.test', rejectUnauthorized: false }, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(got, 'fallback.test');
  const bare = await noSniHello(p.httpsPort);
  assert.ok(!(bare instanceof Error), `a client without SNI gets it too, the default chosen after the listener started: ${bare}`);
});

/** A handshake without SNI (Node sends none to an IP address), as a visitor of https://<address>/ makes. */
function noSniHello(port: number, session?: Buffer): Promise<{ serial: string; reused: boolean; session?: Buffer } | Error> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: ca.caPem, checkServerIdentity: () => undefined, session, ALPNProtocols: ['http/1.1'] });
    let next: Buffer | undefined;
    s.on('session', (b: Buffer) => (next = b));
    s.once('secureConnect', () =>
      // TLS 1.3 tickets arrive after the handshake.
      setTimeout(() => {
        resolve({ serial: s.getPeerCertificate().serialNumber, reused: s.isSessionReused(), session: next });
        s.destroy();
      }, 100),
    );
    s.on('error', (e) => resolve(e));
  });
}

test('a client without SNI gets the default certificate, also once it is renewed, and resumes its session', async () => {
  const serial = (pem: string) => new X509Certificate(pem).serialNumber;
  const first = ca.issue('fallback', ['fallback.test']);
  // As `homeport serve` and its workers do: the default is known when the listener starts.
  const table = new CertificateTable();
  table.activate(first);
  table.setDefault('fallback');
  const p = await startProxy([], { table, settings: { unknownName: 'default-certificate', defaultCertificate: 'fallback' } });
  const a = await noSniHello(p.httpsPort);
  assert.ok(!(a instanceof Error), `the handshake succeeds: ${a}`);
  assert.equal(a.serial, serial(first.certPem));
  assert.equal(a.reused, false);
  assert.ok(a.session);
  const renewed = ca.issue('fallback', ['fallback.test']);
  p.table.activate(renewed);
  const b = await noSniHello(p.httpsPort, a.session);
  assert.ok(!(b instanceof Error), `the handshake succeeds: ${b}`);
  assert.equal(b.reused, true, 'the listener context was replaced; the ticket from before still resumes');
  assert.ok(b.session, 'and the resumption hands out a fresh ticket (the ticket hook is back on the new context)');
  const c = await noSniHello(p.httpsPort);
  assert.ok(!(c instanceof Error));
  assert.equal(c.serial, serial(renewed.certPem), 'a full handshake gets the renewed certificate');
  const cbc = await new Promise<Error | undefined>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: p.httpsPort, rejectUnauthorized: false, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }, () => {
      s.destroy();
      resolve(undefined);
    });
    s.on('error', resolve);
  });
  assert.ok(cbc instanceof Error, "the new context keeps the listener's ciphers: a TLS 1.2 client offering only CBC is refused");
  assert.equal(((await noSniHello(p.httpsPort, b.session)) as { reused: boolean }).reused, true);
  p.table.rotateTicketKeys();
  const d = await noSniHello(p.httpsPort, c.session);
  assert.equal((d as { reused: boolean }).reused, true, 'a ticket sealed with the keys just retired resumes on the new context');
});

test('refusing unknown names, a client without SNI still fails the handshake, default certificate or not', async () => {
  const p = await startProxy([], { settings: { unknownName: 'refuse', defaultCertificate: 'fallback' } });
  p.table.activate(ca.issue('fallback', ['fallback.test']));
  p.table.setDefault('fallback');
  const refused = await noSniHello(p.httpsPort);
  assert.ok(refused instanceof Error, 'no certificate for a client that names none');
  assert.equal((refused as NodeJS.ErrnoException).code, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
});

test('listens on IPv4 and IPv6; the client address reaches the upstream in each family', async () => {
  const up = await echoUpstream();
  for (const listen of [['127.0.0.1', '::1'], ['::']]) {
    const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }], { settings: { listen } });
    p.table.activate(ca.issue('a', ['a.test']));
    for (const [addr, family] of [['127.0.0.1', 4], ['::1', 6]] as const) {
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: addr, family, port: p.httpsPort, servername: 'a.test', headers: { host: 'a.test' }, ca: ca.caPem, agent: false }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      const h = JSON.parse(body).headers;
      assert.equal(h['x-forwarded-for'], addr, `listen ${listen.join(',')}: ${addr}`);
      assert.equal(h.forwarded, `for=${family === 6 ? '"[::1]"' : addr};host=a.test;proto=https`);
    }
    await p.proxy.stop(100);
  }
});

test('HTTP/2 and HTTP/1.1 both work; TLS below 1.2 is refused', async () => {
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  const h2 = await curl(`https://a.test:${p.httpsPort}/v?q=2`, ['--http2'], { ca: ca.caFile });
  assert.equal(h2.httpVersion, '2');
  assert.equal(h2.status, 200);
  assert.equal(JSON.parse(h2.body).url, '/v?q=2');
  const h1 = await curl(`https://a.test:${p.httpsPort}/v`, ['--http1.1'], { ca: ca.caFile });
  assert.equal(h1.httpVersion, '1.1');
  assert.equal(h1.status, 200);
  const old = await curl(`https://a.test:${p.httpsPort}/`, ['--tlsv1.1', '--tls-max', '1.1'], { ca: ca.caFile });
  assert.notEqual(old.code, 0, 'a TLS 1.1 handshake fails');
  // POST over h2 with a body.
  const post = await curl(`https://a.test:${p.httpsPort}/p`, ['--http2', '--data-binary', 'hello h2'], { ca: ca.caFile });
  assert.equal(JSON.parse(post.body).body, 'hello h2');
});

test('X-Forwarded-* and Forwarded are set by the proxy; spoofed copies and hop-by-hop headers are dropped', async () => {
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  const r = await request(p.httpsPort, 'a.test', {
    ca: ca.caPem,
    headers: {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'evil.test',
      'x-real-ip': '6.6.6.6',
      forwarded: 'for=6.6.6.6',
      connection: 'keep-alive, x-secret',
      'x-secret': 'hop',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'proxy-authorization': 'Basic abc',
      'x-kept': 'yes',
    },
  });
  const h = JSON.parse(r.body).headers;
  assert.equal(h['x-forwarded-for'], '127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'https');
  assert.equal(h['x-forwarded-host'], 'a.test');
  assert.equal(h['x-real-ip'], '127.0.0.1');
  assert.equal(h.forwarded, 'for=127.0.0.1;host=a.test;proto=https');
  assert.equal(h['x-secret'], undefined, 'a header named in Connection is hop-by-hop');
  assert.equal(h['keep-alive'], undefined);
  assert.equal(h.te, undefined);
  assert.equal(h['proxy-authorization'], undefined);
  assert.equal(h['x-kept'], 'yes');
  assert.equal(h.host, 'a.test', 'Host passes through by default');
});

test('Host rewrite, path prefixes (longest first) and prefix stripping', async () => {
  const a = await echoUpstream('a');
  const b = await echoUpstream('b');
  const p = await startProxy([
    { host: 'a.test', upstreams: [a.url], hostRewrite: 'internal.lan:8080', hsts: { maxAge: 600, includeSubDomains: true } },
    { host: 'a.test', pathPrefix: '/grafana', stripPrefix: true, upstreams: [`${b.url}/base`] },
  ]);
  p.table.activate(ca.issue('a', ['a.test']));
  const root = JSON.parse((await request(p.httpsPort, 'a.test', { ca: ca.caPem, path: '/grafanax' })).body);
  assert.equal(root.name, 'a', '/grafanax is not under /grafana');
  assert.equal(root.headers.host, 'internal.lan:8080');
  const hsts = await request(p.httpsPort, 'a.test', { ca: ca.caPem });
  assert.equal(hsts.headers['strict-transport-security'], 'max-age=600; includeSubDomains');
  const noHsts = await request(p.httpsPort, 'a.test', { ca: ca.caPem, path: '/grafana/x' });
  assert.equal(noHsts.headers['strict-transport-security'], undefined, 'HSTS is per route');
  const g = JSON.parse((await request(p.httpsPort, 'a.test', { ca: ca.caPem, path: '/grafana/d/1?x=2' })).body);
  assert.equal(g.name, 'b');
  assert.equal(g.url, '/base/d/1?x=2');
  const g2 = JSON.parse((await request(p.httpsPort, 'a.test', { ca: ca.caPem, path: '/grafana?x=1' })).body);
  assert.equal(g2.url, '/base/?x=1');
});

test('basic auth: hashed passwords, 401 with a challenge, credentials not passed upstream', async () => {
  const up = await echoUpstream();
  const hash = await hashPassword('s3cret');
  assert.match(hash, /^scrypt\$/);
  assert.ok(!hash.includes('s3cret'));
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url], basicAuth: { realm: 'Home', users: [{ name: 'ann', hash }] } }]);
  p.table.activate(ca.issue('a', ['a.test']));
  const none = await request(p.httpsPort, 'a.test', { ca: ca.caPem });
  assert.equal(none.status, 401);
  assert.equal(none.headers['www-authenticate'], 'Basic realm="Home", charset="UTF-8"');
  const auth = (u: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${pw}`).toString('base64')}` });
  assert.equal((await request(p.httpsPort, 'a.test', { ca: ca.caPem, headers: auth('ann', 'wrong') })).status, 401);
  assert.equal((await request(p.httpsPort, 'a.test', { ca: ca.caPem, headers: auth('bob', 's3cret') })).status, 401);
  for (let i = 0; i < 3; i++) {
    const ok = await request(p.httpsPort, 'a.test', { ca: ca.caPem, headers: auth('ann', 's3cret') });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).headers.authorization, undefined);
  }
});

test('allow-list: only listed networks reach the route', async () => {
  const up = await echoUpstream();
  const p = await startProxy([
    { host: 'lan.test', upstreams: [up.url], allow: ['192.168.0.0/16', 'fd00::/8'] },
    { host: 'local.test', upstreams: [up.url], allow: ['127.0.0.0/8'] },
  ]);
  p.table.activate(ca.issue('lan', ['lan.test', 'local.test']));
  const denied = await request(p.httpsPort, 'lan.test', { ca: ca.caPem });
  assert.equal(denied.status, 403);
  assert.match(denied.body, /lan\.test only accepts visitors from its allowed networks/);
  assert.equal(up.seen.length, 0, 'a refused request never reaches the upstream');
  assert.equal((await request(p.httpsPort, 'local.test', { ca: ca.caPem })).status, 200);
});

test('an upstream that drops the connection unanswered: a GET is tried once more, a request with a body is not', async () => {
  const seen: string[] = [];
  let droppedOnce = false;
  const up = await startUpstream((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const drop = req.url === '/always' || (req.url === '/once' && !droppedOnce);
    if (req.url === '/once') droppedOnce = true;
    if (drop) return void req.socket.destroy();
    req.resume();
    req.on('end', () => res.end('answered'));
  });
  const p = await startProxy([{ host: 'drop.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('drop', ['drop.test']));
  const once = await request(p.httpsPort, 'drop.test', { ca: ca.caPem, path: '/once' });
  assert.equal(once.status, 200);
  assert.equal(once.body, 'answered');
  const always = await request(p.httpsPort, 'drop.test', { ca: ca.caPem, path: '/always' });
  assert.equal(always.status, 502);
  assert.match(always.body, /closed the connection without answering/);
  const post = await request(p.httpsPort, 'drop.test', { ca: ca.caPem, path: '/always', method: 'POST', body: 'once only' });
  assert.equal(post.status, 502);
  assert.deepEqual(seen, ['GET /once', 'GET /once', 'GET /always', 'GET /always', 'POST /always'], 'one retry for a GET, none for a POST');
});

test('upstream down: 502 page naming the route; round robin skips a failed upstream', async () => {
  const up = await echoUpstream('alive');
  const dead = 'http://127.0.0.1:1';
  const p = await startProxy([
    { host: 'down.test', upstreams: [dead] },
    { host: 'mixed.test', upstreams: [dead, up.url] },
  ]);
  p.table.activate(ca.issue('d', ['down.test', 'mixed.test']));
  const r = await request(p.httpsPort, 'down.test', { ca: ca.caPem, path: '/x' });
  assert.equal(r.status, 502);
  assert.match(r.body, /down\.test/);
  assert.match(r.body, /refused/);
  assert.doesNotMatch(r.body, /at .*\.js:\d+/, 'no stack trace');
  for (let i = 0; i < 4; i++) {
    const m = await request(p.httpsPort, 'mixed.test', { ca: ca.caPem });
    assert.equal(m.status, 200, 'a GET is retried on the next upstream');
    assert.equal(JSON.parse(m.body).name, 'alive');
  }
  const stats = p.proxy.stats();
  const down = stats.find((s) => s.route === 'down.test')!;
  assert.equal(down.requests, 1);
  assert.equal(down.errors, 1);
  const mixed = stats.find((s) => s.route === 'mixed.test')!;
  assert.equal(mixed.requests, 4);
  assert.equal(mixed.errors, 0);
  assert.ok(mixed.bytesOut > 0);
});

test('an upstream that does not accept in time gives a 502 after the connect timeout', async () => {
  // A listener with a one-slot accept queue whose process never accepts: once the slot is
  // taken, further connections hang in SYN-SENT, like an upstream host that is off.
  const { spawn } = await import('node:child_process');
  const hole = spawn(process.execPath, ['-e', "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 0 }, function () { console.log(this.address().port); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); })"], { stdio: ['ignore', 'pipe', 'ignore'] });
  after(() => void hole.kill('SIGKILL'));
  const port = await new Promise<number>((r) => hole.stdout.once('data', (d) => r(Number(String(d).trim()))));
  const { connect } = await import('node:net');
  // Fill the accept queue until a connection hangs.
  for (let hung = false; !hung; ) {
    const filler = connect(port, '127.0.0.1');
    after(() => void filler.destroy());
    hung = await new Promise<boolean>((r) => {
      filler.once('connect', () => r(false));
      setTimeout(() => r(true), 300);
    });
  }
  const p = await startProxy([{ host: 'slow.test', upstreams: [`http://127.0.0.1:${port}`] }], { settings: { upstreamConnectTimeoutMs: 300 } });
  p.table.activate(ca.issue('slow', ['slow.test']));
  const r = await request(p.httpsPort, 'slow.test', { ca: ca.caPem });
  assert.equal(r.status, 502);
  assert.match(r.body, /slow\.test/);
  assert.match(r.body, /did not accept the connection in time/);
});

test('unknown Host on a served TLS name gets a plain 421; absolute-form URLs are not proxied', async () => {
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  const r = await request(p.httpsPort, 'a.test', { ca: ca.caPem, headers: { host: 'elsewhere.example' } });
  assert.equal(r.status, 421);
  assert.match(r.body, /does not serve elsewhere\.example/);
  const abs = await request(p.httpsPort, 'a.test', { ca: ca.caPem, path: 'http://elsewhere.example/' });
  assert.equal(abs.status, 400);
  assert.equal(up.seen.length, 0);
});

test('server-sent events arrive unbuffered', async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: first\n\n');
    void released.then(() => res.end('data: last\n\n'));
  });
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  for (const h2 of [false, true]) {
    const first = await new Promise<string>((resolve, reject) => {
      if (h2) {
        const session = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'a.test', ca: ca.caPem });
        const s = session.request({ ':path': '/events', ':authority': 'a.test' });
        s.setEncoding('utf8');
        s.once('data', (d: string) => {
          resolve(d);
          s.close();
          session.close();
        });
        s.on('error', reject);
      } else {
        const req = https.get({ host: '127.0.0.1', port: p.httpsPort, path: '/events', servername: 'a.test', headers: { host: 'a.test' }, ca: ca.caPem, agent: false }, (res) => {
          res.setEncoding('utf8');
          res.once('data', (d: string) => {
            resolve(d);
            req.destroy();
          });
        });
        req.on('error', reject);
      }
    });
    assert.equal(first, 'data: first\n\n', `first event arrives while the stream is still open (${h2 ? 'h2' : 'http/1.1'})`);
  }
  release();
});

test('WebSocket echo through the proxy (HTTP/1.1 Upgrade and HTTP/2 extended CONNECT)', async () => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${req.headers['x-forwarded-for']}`);
    ws.on('message', (m) => ws.send(`echo:${m.toString()}`));
  });
  const up = await startUpstream(() => {}, server);
  const logged: AccessEntry[] = [];
  const p = await startProxy([{ host: 'ws.test', upstreams: [up.url] }], { extra: { log: (e) => logged.push(e) } });
  p.table.activate(ca.issue('ws', ['ws.test']));
  const ws = new WebSocket(`wss://127.0.0.1:${p.httpsPort}/socket`, { headers: { host: 'ws.test' }, servername: 'ws.test', ca: ca.caPem } as ConstructorParameters<typeof WebSocket>[2]);
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (m) => {
      messages.push(m.toString());
      if (messages.length === 1) ws.send('ping 1');
      if (messages.length === 2) resolve();
    });
    ws.on('error', reject);
  });
  assert.deepEqual(messages, ['hello 127.0.0.1', 'echo:ping 1']);
  assert.deepEqual(logged.map((e) => [e.status, e.path, e.route]), [[101, '/socket', 'ws.test']], 'the upgrade is in the access log');
  assert.equal(p.proxy.stats()[0]!.openUpgrades, 1);
  ws.close();

  // RFC 8441 over HTTP/2: a masked text frame out, the upstream's frames back.
  const session = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'ws.test', ca: ca.caPem });
  await new Promise<void>((r) => session.once('remoteSettings', () => r()));
  assert.equal(session.remoteSettings.enableConnectProtocol, true);
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/socket', ':scheme': 'https', ':authority': 'ws.test', 'sec-websocket-version': '13' });
  const frames: string[] = [];
  const got = new Promise<void>((resolve) => {
    let buf = Buffer.alloc(0);
    stream.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + (buf[1]! & 0x7f)) {
        const len = buf[1]! & 0x7f;
        frames.push(buf.subarray(2, 2 + len).toString());
        buf = buf.subarray(2 + len);
      }
      if (frames.length === 2) resolve();
    });
  });
  const status = await new Promise<number>((r) => stream.once('response', (h) => r(Number(h[':status']))));
  assert.equal(status, 200);
  const payload = Buffer.from('ping 2');
  const mask = Buffer.from([1, 2, 3, 4]);
  stream.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ mask[i % 4]!)]));
  await got;
  assert.deepEqual(frames, ['hello 127.0.0.1', 'echo:ping 2']);
  stream.close();
  session.close();
});

test('upstreams over a unix socket and over https with a self-signed certificate', async () => {
  const sock = path.join(tmpDir('homeport-proxy-sock-'), 'app.sock');
  const unix = http.createServer((req, res) => res.end(`unix ${req.url}`));
  await new Promise<void>((r) => unix.listen(sock, r));
  const self = ca.issue('upstream', ['localhost']);
  const selfSigned = https.createServer({ cert: self.certPem, key: self.keyPem }, (req, res) => res.end(`tls ${req.url}`));
  await new Promise<void>((r) => selfSigned.listen(0, '127.0.0.1', r));
  const tlsPort = (selfSigned.address() as { port: number }).port;
  const p = await startProxy([
    { host: 'unix.test', upstreams: [`unix:${sock}`] },
    { host: 'trust.test', upstreams: [`https://localhost:${tlsPort}`], trustSelfSigned: true },
    { host: 'strict.test', upstreams: [`https://localhost:${tlsPort}`] },
  ]);
  p.table.activate(ca.issue('all', ['unix.test', 'trust.test', 'strict.test']));
  assert.equal((await request(p.httpsPort, 'unix.test', { ca: ca.caPem, path: '/u' })).body, 'unix /u');
  assert.equal((await request(p.httpsPort, 'trust.test', { ca: ca.caPem, path: '/t' })).body, 'tls /t');
  const strict = await request(p.httpsPort, 'strict.test', { ca: ca.caPem });
  assert.equal(strict.status, 502, 'an unverifiable upstream certificate is refused unless trusted');
  assert.match(strict.body, /trustSelfSigned/);
  unix.close();
  selfSigned.close();
});

test('routes are validated with plain messages', async () => {
  const bad = (r: unknown, re: RegExp) => assert.throws(() => checkRoutes([r as never]), (e: Error) => re.test(e.message));
  bad({ host: 'https://a.test', upstreams: ['http://x'] }, /without a scheme/);
  bad({ host: 'a.test', upstreams: [] }, /at least one upstream/);
  bad({ host: 'a.test', upstreams: ['ftp://x'] }, /only http:\/\/, https:\/\/ and unix/);
  bad({ host: 'a.test', upstreams: ['unix:relative.sock'] }, /absolute path/);
  bad({ host: 'a.test', upstreams: ['http://x'], allow: ['10.0.0.0/33'] }, /prefix length/);
  bad({ host: 'a.test', upstreams: ['http://x'], basicAuth: { users: [{ name: 'a', hash: 'plain' }] } }, /hashed/);
  bad({ host: 'a.test', upstreams: ['http://x'], stripPrefix: true }, /needs a pathPrefix/);
  assert.throws(() => checkRoutes([{ host: 'a.test', upstreams: ['http://x'] }, { host: 'A.test.', upstreams: ['http://y'] }]), /two routes for a\.test/);
  assert.equal(checkRoutes([{ host: 'Photos.Example.COM', upstreams: ['http://127.0.0.1:1'] }])[0]!.host, 'photos.example.com');
  const settings = (x: object) => () => new Proxy({ routes: [], settings: x, httpPort: 0, httpsPort: 0, certificates: new CertificateTable() });
  assert.throws(settings({ requestTimeoutMs: 500, headersTimeoutMs: 1000 }), /proxy\.requestTimeoutMs: must be 0 \(no limit\) or at least headersTimeoutMs/);
  assert.throws(settings({ unknownName: 'default-certificate' }), /proxy\.defaultCertificate: name the certificate/);
  assert.throws(settings({ listen: 'everywhere' }), /proxy\.listen/);
});
