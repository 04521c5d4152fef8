import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Runtime } from '../../main/api/runtime';
import { updateConfig } from '../../main/engine/config/file';
import type { CertificateSummary, Overview, PreflightReport, RouteView } from '../../main/api/contract';
import { openTestRuntime, startAppWorld, worldDataDir, type AppWorld } from './fixture';

// The app runs the reverse proxy itself (as `homeport serve` does): the wizard's certificate
// is served, a route added from the dashboard carries traffic at once, and its counters come
// back in the overview. When a port is taken, the engine still runs and the overview says why.

let world: AppWorld;
let rt: Runtime;
let upstream: http.Server;

before(async () => {
  world = await startAppWorld();
  rt = await openTestRuntime(await worldDataDir(world), { serve: true });
  upstream = http.createServer((req, res) => res.end(`hello from upstream ${req.headers.host}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
});
after(async () => {
  await rt?.close();
  upstream?.close();
  await world?.stop();
});

async function call<T>(method: string, input?: unknown): Promise<T> {
  const r = await rt.api.call(method, input);
  assert.ok(r.ok, `${method}: ${JSON.stringify(!r.ok && r.error)}`);
  return r.value as T;
}

test('the proxy runs on the configured ports, issues through its own listeners, and counts a routed request', async () => {
  const o = await call<Overview>('overview');
  assert.deepEqual(o.proxy, { running: true, httpPort: world.pebble.httpPort, httpsPort: world.pebble.tlsPort });
  // http-01 is answered by the proxy's port-80 listener (the engine starts none of its own).
  const cert = await call<CertificateSummary>('issue', { names: ['home.example.com'], servingPolicy: 'serve-now' });
  assert.equal(cert.state, 'active');
  const port = (upstream.address() as AddressInfo).port;
  const routes = await call<RouteView[]>('addRoute', { host: 'home.example.com', upstreams: [`http://127.0.0.1:${port}`] });
  assert.equal(routes.length, 1);

  const root = await world.pebble.issuingRootPem();
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: world.pebble.tlsPort, servername: 'home.example.com', headers: { Host: 'home.example.com' }, ca: root, path: '/' }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
  assert.equal(body, 'hello from upstream home.example.com');
  const after = await call<Overview>('overview');
  const counters = after.routes.find((r) => r.host === 'home.example.com')!.counters;
  assert.ok(counters, 'counters of the running proxy');
  assert.equal(counters.requests, 1);
  assert.equal(counters.errors, 0);
  assert.ok(counters.bytesOut >= body.length);
  assert.ok(counters.p99Ms !== undefined);
});

test("the wizard's pre-flight counts the running proxy's ports as Homeport's own, not another program's", async () => {
  const report = await call<PreflightReport>('preflight', { names: ['home.example.com'] });
  const ports = report.names[0]!.checks.find((c) => c.id === 'ports')!;
  assert.equal(ports.status, 'pass', ports.summary);
  assert.match(ports.summary, new RegExp(`Homeport's proxy listens on ports ${world.pebble.httpPort} and ${world.pebble.tlsPort}`));
  assert.equal(report.verdict, 'ready');
  assert.equal(report.recommendedChallenge, 'http-01');
});

test('a port already in use: the engine still runs and the overview says why, with the fix', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const dataDir = await worldDataDir(world);
  await updateConfig(dataDir, (c) => ({ ...c, listeners: { ...c.listeners, httpPort: (blocker.address() as AddressInfo).port } }));
  const second = await openTestRuntime(dataDir, { serve: true });
  try {
    const r = await second.api.call('overview', undefined);
    assert.ok(r.ok);
    const o = r.value as Overview;
    assert.equal(o.proxy.running, false);
    assert.ok(o.proxy.problem, 'the reason is given');
    assert.match(o.proxy.problem.message, new RegExp(String((blocker.address() as AddressInfo).port)));
    assert.ok(o.proxy.problem.fix);
    assert.deepEqual(o.certificates, []);
  } finally {
    await second.close();
    blocker.close();
  }
});
