import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { TestCa, startProxy, request, echoUpstream } from './fixtures';
import { routingTarget, stripPrefix } from '../../main/engine/proxy/request-path';
import { hostOf } from '../../main/engine/proxy/route-table';
import { checkRoutes } from '../../main/engine/proxy/proxy';

const ca = new TestCa();

/** Paths that reached an open route's upstream although it normalises them to /admin/…. */
const BYPASSES = ['/x/../admin/x', '/%61dmin/x', '//admin/x', '/./admin/x', '/admin;x', '/Admin/x', '/admin%2fx', '/%2e%2e/admin/x'];
/** Paths whose meaning depends on how the upstream reads them, or that are malformed. */
const REFUSED = ['/x/..%2fadmin/x', '/ADMIN%2F..%2Fadmin', '/x/..%5Cadmin/x', '/x\\..\\admin/x', '/x/..;/admin/x', '/x/.;y/admin', '/%zz', '/%4', '/a%', '/admin%00.js', '/admin#x', '/%C0%AFadmin'];

test('routingTarget: a path with nothing to normalise but case is forwarded as is, its key lower-case', () => {
  for (const url of ['/', '/a/b.c/d-e_f~', '/a?x=/../Y&%zz#', '/a/.b/c']) {
    assert.deepEqual(routingTarget(url), { forward: url, key: url.toLowerCase() }, url);
  }
  assert.deepEqual(routingTarget('/Static/App.JS'), { forward: '/Static/App.JS', key: '/static/app.js' });
  assert.deepEqual(routingTarget('*'), { forward: '*', key: '*' }, 'OPTIONS * is left to the handler');
  assert.deepEqual(routingTarget('http://elsewhere/'), { forward: 'http://elsewhere/', key: 'http://elsewhere/' }, 'so is an absolute-form target');
});

test('routingTarget: the bypasses of /admin all have a key under /admin', () => {
  const cases = [
    ['/x/../admin/x', '/admin/x', '/admin/x'],
    ['/%61dmin/x', '/admin/x', '/admin/x'],
    ['//admin/x', '//admin/x', '/admin/x'],
    ['/./admin/x', '/admin/x', '/admin/x'],
    ['/admin;x', '/admin;x', '/admin'],
    ['/Admin/x', '/Admin/x', '/admin/x'],
    ['/admin%2fx', '/admin%2Fx', '/admin/x'],
    ['/%2e%2e/admin/x', '/admin/x', '/admin/x'],
  ];
  assert.deepEqual(cases.map((c) => c[0]), BYPASSES);
  for (const [url, forward, key] of cases) assert.deepEqual(routingTarget(url!), { forward, key }, url);
});

test('routingTarget: dot-segments (RFC 3986 §5.2.4), escapes (§6.2.2), and the query left alone', () => {
  const forward = (url: string) => routingTarget(url)?.forward;
  assert.equal(forward('/../a'), '/a', '".." stops at the root');
  assert.equal(forward('/../../a/./b/../c'), '/a/c');
  assert.equal(forward('/..'), '/');
  assert.equal(forward('/.'), '/');
  assert.equal(forward('/a/..'), '/');
  assert.equal(forward('/a/.'), '/a/');
  assert.equal(forward('/a//../b'), '/a/b');
  assert.equal(forward('/%2E%2e/%2e/a'), '/a', 'escaped dots are dots');
  assert.equal(forward('/%7e%41%2d%5f/%3a%2F%c3%a9'), '/~A-_/%3A%2F%C3%A9', 'unreserved decoded, the rest upper-case hex');
  assert.equal(routingTarget('/%7e%41%2d%5f/%3a%2F%c3%a9')?.key, '/~a-_/:/é');
  assert.equal(forward('/a/../b?x=/../y&z=%zz%00'), '/b?x=/../y&z=%zz%00', 'the query is not a path');
  assert.equal(routingTarget('/A/./b?x=/../Y')?.key, '/a/b');
  assert.equal(routingTarget('/a\\b')?.key, '/a/b');
  assert.equal(routingTarget('/a;x=1/b;y/c')?.key, '/a/b/c');
  assert.equal(routingTarget('/a//b///c/')?.key, '/a/b/c');
  assert.equal(routingTarget('/%25/%2500')?.forward, '/%25/%2500', 'an escaped % is not an escape');
});

test('routingTarget: malformed escapes, %00, bytes that are not UTF-8 and hidden dot-segments are refused', () => {
  for (const url of REFUSED) assert.equal(routingTarget(url), undefined, url);
});

test('stripPrefix: at a segment boundary, case-insensitive, refused where the prefix is only in the key', () => {
  assert.equal(stripPrefix('/grafana/d/1?x=2', '/grafana'), '/d/1?x=2');
  assert.equal(stripPrefix('/grafana', '/grafana'), '/');
  assert.equal(stripPrefix('/grafana?x=/y', '/grafana'), '/?x=/y');
  assert.equal(stripPrefix('/grafana/', '/grafana'), '/');
  assert.equal(stripPrefix('/Grafana/x', '/grafana'), '/x');
  assert.equal(stripPrefix('//grafana/x', '/grafana'), '/x');
  assert.equal(stripPrefix('/grafana;v=1/x', '/grafana'), '/x');
  assert.equal(stripPrefix('/my%20App/x', '/my app'), '/x');
  assert.equal(stripPrefix('/a/b/c', '/a/b'), '/c');
  assert.equal(stripPrefix('/grafana%2Fx', '/grafana'), undefined, 'the key is /grafana/x, yet no segment of the path is /grafana');
  assert.equal(stripPrefix('/grafanax', '/grafana'), undefined);
  assert.equal(stripPrefix('/x', '/grafana'), undefined);
});

test('hostOf: a name or [v6], with at most a port after it', () => {
  assert.equal(hostOf('a.test'), 'a.test');
  assert.equal(hostOf('A.Test.:8443'), 'a.test');
  assert.equal(hostOf('[::1]'), '[::1]');
  assert.equal(hostOf('[FD00::1]:443'), '[fd00::1]');
  assert.equal(hostOf('127.0.0.1:1'), '127.0.0.1');
  for (const h of [undefined, '', '.', 'a.test:@evil.com', 'a.test:443/evil?', 'a.test:', 'a.test:123456', 'a.test:443:1', 'a.test:x', 'user@a.test', 'a.test/x', 'a test', '[::1]x', '[::1]:443x', '[::1', '[a.test]', '[]']) {
    assert.equal(hostOf(h), undefined, String(h));
  }
});

test('a path prefix must have a routing key', () => {
  assert.throws(() => checkRoutes([{ host: 'a.test', pathPrefix: '/a%zz', upstreams: ['http://x'] }]), /path prefix may not contain/);
  assert.throws(() => checkRoutes([{ host: 'a.test', pathPrefix: '/a/..%2Fb', upstreams: ['http://x'] }]), /path prefix may not contain/);
});

test('end to end: an allow-listed prefix is not bypassed by any spelling of its path, over HTTP/1.1, HTTP/2 and Upgrade', async () => {
  const open = await echoUpstream('open');
  const guarded = await echoUpstream('guarded');
  const p = await startProxy([
    { host: 'a.test', upstreams: [open.url] },
    { host: 'a.test', pathPrefix: '/admin', upstreams: [guarded.url], allow: ['10.0.0.0/8'] },
    { host: 'a.test', pathPrefix: '/Secret%20Area', upstreams: [guarded.url], allow: ['10.0.0.0/8'] },
  ]);
  p.table.activate(ca.issue('a', ['a.test']));
  const get = (path: string) => request(p.httpsPort, 'a.test', { ca: ca.caPem, path });
  assert.equal((await get('/x')).status, 200);
  assert.equal((await get('/admin/x')).status, 403);
  for (const path of [...BYPASSES, '/secret%20area/x', '/SECRET%20AREA']) {
    const r = await get(path);
    assert.equal(r.status, 403, `${path}: ${r.body}`);
  }
  for (const path of REFUSED) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${r.body}`);
    assert.match(r.body, /The request path is malformed or ambiguous/);
  }
  const normalised = JSON.parse((await get('/y/../x/%7euser/%2e/a%2fb?q=/../%zz')).body);
  assert.deepEqual([normalised.name, normalised.url], ['open', '/x/~user/a%2Fb?q=/../%zz'], 'the upstream gets the normalised path and the query as sent');
  assert.equal(open.seen.length, 2);
  assert.equal(guarded.seen.length, 0);

  const session = http2.connect(`https://127.0.0.1:${p.httpsPort}`, { servername: 'a.test', ca: ca.caPem });
  try {
    for (const [path, want] of [['/x/../admin/x', 403], ['/%61dmin', 403], ['/x/..%2Fadmin', 400], ['/x', 200]] as const) {
      const stream = session.request({ ':path': path, ':authority': 'a.test' });
      const status = await new Promise<number>((r) => stream.once('response', (h) => r(Number(h[':status']))));
      stream.resume();
      assert.equal(status, want, `HTTP/2 ${path}`);
    }
  } finally {
    session.close();
  }

  for (const [path, want] of [['/x/../admin/ws', 403], ['/ADMIN/ws', 403], ['/x/..;/admin/ws', 400]] as const) {
    assert.equal(await upgradeStatus(p.httpsPort, path), want, `Upgrade ${path}`);
  }
  assert.equal(guarded.seen.length, 0);
});

/** The status line of a WebSocket handshake sent as raw bytes, so nothing rewrites the path. */
function upgradeStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ca: ca.caPem, ALPNProtocols: ['http/1.1'] }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n');
      if (end >= 0) {
        s.destroy();
        resolve(Number(got.slice(0, end).split(' ')[1]));
      }
    });
    s.on('error', reject);
  });
}

test('end to end: a strip-prefix route never sends a path outside the upstream base path', async () => {
  const open = await echoUpstream('open');
  const grafana = await echoUpstream('grafana');
  const p = await startProxy([
    { host: 'a.test', upstreams: [open.url] },
    { host: 'a.test', pathPrefix: '/grafana', stripPrefix: true, upstreams: [`${grafana.url}/base`] },
  ]);
  p.table.activate(ca.issue('a', ['a.test']));
  const get = async (path: string): Promise<[string, string] | number> => {
    const r = await request(p.httpsPort, 'a.test', { ca: ca.caPem, path });
    if (r.status !== 200) return r.status;
    const { name, url } = JSON.parse(r.body) as { name: string; url: string };
    return [name, url];
  };
  assert.deepEqual(await get('/grafana/../admin'), ['open', '/admin'], 'out of the route: this is /admin');
  assert.deepEqual(await get('/grafana/%2e%2e/admin'), ['open', '/admin']);
  assert.deepEqual(await get('/grafana/d/1?q=/../../x'), ['grafana', '/base/d/1?q=/../../x']);
  assert.deepEqual(await get('/Grafana/d/./1'), ['grafana', '/base/d/1']);
  assert.deepEqual(await get('//grafana/d'), ['grafana', '/base/d']);
  assert.deepEqual(await get('/grafana/d/..'), ['grafana', '/base/']);
  assert.deepEqual(await get('/grafana/api/queues/%2F'), ['grafana', '/base/api/queues/%2F'], 'an encoded slash that hides no ".." passes');
  for (const path of ['/grafana/..%2F..%2Fadmin', '/grafana/x/..%2F..%2Fgrafana/y', '/grafana/..;/grafana/y', '/grafana\\..\\..\\x', '/grafana%2Fy', '/x/..%2fgrafana/y']) {
    assert.equal(await get(path), 400, path);
  }
  assert.equal(grafana.seen.length, 5, 'only the requests above that it answered');
});

test('end to end: a Host with anything after the name but a port gets 400; the port is kept', async () => {
  const up = await echoUpstream();
  const p = await startProxy([{ host: 'a.test', upstreams: [up.url] }]);
  p.table.activate(ca.issue('a', ['a.test']));
  for (const host of ['a.test:@evil.com', 'a.test:443/evil?', 'a.test:443 x', 'a.test:']) {
    const r = await request(p.httpsPort, 'a.test', { ca: ca.caPem, headers: { host } });
    assert.equal(r.status, 400, host);
    assert.match(r.body, /no valid Host header/);
  }
  const ok = JSON.parse((await request(p.httpsPort, 'a.test', { ca: ca.caPem, headers: { host: 'A.test:443' } })).body);
  assert.equal(ok.headers.host, 'A.test:443');
  assert.equal(ok.headers['x-forwarded-host'], 'A.test:443');
  assert.equal(up.seen.length, 1);
});
