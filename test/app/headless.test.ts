import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as os from 'node:os';
import type { Runtime } from '../../main/api/runtime';
import type { AddressInfo } from 'node:net';
import type { ApiEvent } from '../../main/api/contract';
import { startHeadlessHost, type HeadlessHost } from '../../main/headless';
import { openChromium } from '../helpers/chromium';
import { openTestRuntime, startAppWorld, worldDataDir, type AppWorld } from './fixture';

// The headless host: loopback only, a token on every request, Host checked against DNS
// rebinding, same-origin JSON for the API, CSP on every answer, engine events over SSE, and a
// cookie no other server on 127.0.0.1 receives.

let world: AppWorld;
let rt: Runtime;
let host: HeadlessHost;

before(async () => {
  world = await startAppWorld();
  rt = await openTestRuntime(await worldDataDir(world));
  host = await startHeadlessHost({ api: rt.api });
});
after(async () => {
  await host?.close();
  await rt?.close();
  await world?.stop();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; hostHeader?: string; address?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.address ?? '127.0.0.1',
        port: host.port,
        agent: false,
        path,
        method: opts.method ?? 'GET',
        headers: { Host: opts.hostHeader ?? `127.0.0.1:${host.port}`, ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const auth = () => ({ Authorization: `Bearer ${host.token}` });
/** A path under the host's per-run base path, e.g. at('/api/overview'). */
const at = (p: string) => new URL(host.base).pathname + p.slice(1);
const json = { 'Content-Type': 'application/json' };

test('listens on 127.0.0.1 only, and refuses to listen anywhere else', async () => {
  assert.match(host.url, /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{22}\/\?token=[A-Za-z0-9_-]{43}$/);
  const lan = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (lan) {
    await assert.rejects(request(at('/'), { address: lan.address, headers: auth() }), /ECONNREFUSED/);
  }
  await assert.rejects(startHeadlessHost({ api: rt.api, host: '0.0.0.0' as never }), /only listens on loopback/);
});

test('every path needs the token; the printed link trades it for an HttpOnly SameSite cookie scoped to this run', async () => {
  for (const [path, method] of [['/', 'GET'], ['/js/main.js', 'GET'], ['/static/app.css', 'GET'], ['/api/events', 'GET'], ['/api/overview', 'POST']] as const) {
    const r = await request(at(path), { method, headers: json });
    assert.equal(r.status, 401, `${method} ${path}`);
    assert.match(r.body, /Open the link Homeport printed/);
  }
  const wrong = await request(at('/'), { headers: { Authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const wrongLink = await request(at('/?token=' + 'x'.repeat(43)));
  assert.equal(wrongLink.status, 401);
  assert.equal(wrongLink.headers['set-cookie'], undefined);

  const link = await request(new URL(host.url).pathname + new URL(host.url).search);
  assert.equal(link.status, 303);
  assert.equal(link.headers.location, at('/'), 'the token leaves the address bar');
  const cookie = link.headers['set-cookie']![0]!;
  assert.equal(cookie, `homeport_token_${host.port}=${host.token}; Path=${at('/')}; HttpOnly; SameSite=Strict`);
  const page = await request(at('/'), { headers: { Cookie: cookie.split(';')[0]! } });
  assert.equal(page.status, 200);
  assert.match(page.body, /<div id="app">/);
  const bearer = await request(at('/api/overview'), { method: 'POST', headers: { ...auth(), ...json } });
  assert.equal(bearer.status, 200);
  assert.equal(JSON.parse(bearer.body).ok, true);
});

test('outside this run\'s random path nothing answers, even with the token', async () => {
  for (const [path, method] of [['/', 'GET'], ['/js/main.js', 'GET'], ['/api/events', 'GET'], ['/api/overview', 'POST']] as const) {
    const r = await request(path, { method, headers: { ...auth(), ...json } });
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.match(r.body, /Open the link Homeport printed/);
  }
  const link = await request(`/?token=${host.token}`);
  assert.equal(link.status, 404);
  assert.equal(link.headers['set-cookie'], undefined, 'no cookie for "/"');
  const other = await startHeadlessHost({ api: rt.api });
  try {
    assert.notEqual(new URL(other.base).pathname, new URL(host.base).pathname, 'each run has its own path');
  } finally {
    await other.close();
  }
});

test('in a browser, a second Homeport leaves the first one signed in, and other loopback servers never see the token', async () => {
  const cookiesSeen: (string | undefined)[] = [];
  const bystander = http.createServer((req, res) => {
    cookiesSeen.push(req.headers.cookie);
    res.end('some other local dev server');
  });
  await new Promise<void>((resolve) => bystander.listen(0, '127.0.0.1', resolve));
  const second = await startHeadlessHost({ api: rt.api });
  const { context, page } = await openChromium();
  try {
    await page.goto(host.url);
    await page.waitForSelector('[data-view]');
    const other = await context.newPage();
    await other.goto(second.url);
    await other.waitForSelector('[data-view]');
    // The first tab's next call (and its event stream's next reconnect) still carries its own token.
    const status = await page.evaluate(`fetch('api/overview', { method: 'POST', headers: { 'Content-Type': 'application/json' } }).then((r) => r.status)`);
    assert.equal(status, 200, 'the first Homeport still accepts its tab');
    await other.goto(`http://127.0.0.1:${(bystander.address() as AddressInfo).port}/`);
    assert.ok(cookiesSeen.length > 0);
    assert.deepEqual(cookiesSeen.filter((c) => c !== undefined), [], 'the bystander got no Homeport cookie');
  } finally {
    await context.close();
    await second.close();
    bystander.closeAllConnections();
    await new Promise((r) => bystander.close(r));
  }
});

test('a Host header that is not loopback is refused, even with the token (DNS rebinding)', async () => {
  for (const h of [`evil.example:${host.port}`, `127.0.0.1.nip.io:${host.port}`, '127.0.0.1', `127.0.0.1:${host.port + 1}`]) {
    const r = await request(at('/'), { hostHeader: h, headers: auth() });
    assert.equal(r.status, 421, h);
  }
  assert.equal((await request(at('/'), { hostHeader: `localhost:${host.port}`, headers: auth() })).status, 200);
});

test('every answer carries the CSP and security headers', async () => {
  for (const r of [await request('/'), await request(at('/')), await request(at('/'), { headers: auth() }), await request(at('/js/main.js'), { headers: auth() })]) {
    assert.match(r.headers['content-security-policy'] as string, /default-src 'none'; script-src 'self'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
  }
  assert.equal((await request(at('/js/main.js'), { headers: auth() })).headers['content-type'], 'text/javascript; charset=utf-8');
});

test('API calls must be same-origin JSON POSTs; files outside the UI are unreachable', async () => {
  assert.equal((await request(at('/api/overview'), { headers: auth() })).status, 405);
  assert.equal((await request(at('/api/overview'), { method: 'POST', headers: { ...auth(), 'Content-Type': 'text/plain' } })).status, 415);
  const cross = await request(at('/api/overview'), { method: 'POST', headers: { ...auth(), ...json, Origin: 'https://evil.example' } });
  assert.equal(cross.status, 403);
  const same = await request(at('/api/overview'), { method: 'POST', headers: { ...auth(), ...json, Origin: `http://127.0.0.1:${host.port}` } });
  assert.equal(same.status, 200);
  assert.equal((await request(at('/api/nope'), { method: 'POST', headers: { ...auth(), ...json } })).status, 404);
  const badJson = await request(at('/api/getCertificate'), { method: 'POST', headers: { ...auth(), ...json }, body: '{' });
  assert.equal(badJson.status, 400);
  const invalid = await request(at('/api/getCertificate'), { method: 'POST', headers: { ...auth(), ...json }, body: '{"name": 5}' });
  assert.equal(JSON.parse(invalid.body).error.code, 'api.invalid-input');
  for (const p of ['/static/../../package.json', '/js/../../main/start.js', '/static/%2e%2e/%2e%2e/package.json', '/package.json', '/static/tray/../../../.ci/run']) {
    assert.equal((await request(at(p), { headers: auth() })).status, 404, p);
  }
  const big = await request(at('/api/issue'), { method: 'POST', headers: { ...auth(), ...json }, body: JSON.stringify({ names: ['x'.repeat(2_000_000)] }) });
  assert.equal(big.status, 400);
});

test('server-sent events deliver the engine events of an issuance', async () => {
  const events: ApiEvent[] = [];
  let buffer = '';
  const issuedSeen = new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: host.port, agent: false, path: at('/api/events'), headers: { ...auth(), Host: `127.0.0.1:${host.port}` } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const e = JSON.parse(data.slice(6)) as ApiEvent;
          events.push(e);
          if (e.type === 'cert:issued') {
            req.destroy();
            resolve();
          }
        }
      });
    });
    req.on('error', reject);
  });
  await new Promise((r) => setTimeout(r, 50)); // let the stream subscribe before the issuance starts
  const r = await request(at('/api/issue'), { method: 'POST', headers: { ...auth(), ...json }, body: JSON.stringify({ names: ['home.example.com'] }) });
  assert.equal(JSON.parse(r.body).ok, true, r.body);
  await issuedSeen;
  const types = events.map((e) => e.type);
  assert.ok(types.includes('progress'), types.join(', '));
  assert.ok(types.includes('cert:state'), types.join(', '));
  const issued = events.find((e) => e.type === 'cert:issued')!;
  assert.equal(issued.type === 'cert:issued' && issued.payload.name, 'home.example.com');
});
