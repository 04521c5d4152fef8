import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { TestCa, curl, echoUpstream, request, startUpstream } from './fixtures';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { CertificateTable } from '../../main/engine/proxy/cert-source';
import { BroadcastChallengeStore, ProxyCluster } from '../../main/engine/proxy/cluster';

test('three serving processes (this one and two helpers) share routes, certificates, http-01 answers and counters', { timeout: 60_000 }, async () => {
  const ca = new TestCa();
  const up = await echoUpstream('one');
  const up2 = await echoUpstream('two');
  const table = new CertificateTable();
  const first = ca.issue('c', ['c.test', 'd.test']);
  table.activate(first);
  const challenges = new BroadcastChallengeStore();
  challenges.setHttp01('early', 'early.key');
  const cluster = new ProxyCluster({
    workers: 3,
    routes: [{ host: 'c.test', upstreams: [up.url] }],
    settings: { listen: ['127.0.0.1', '::1'] },
    httpPort: 0,
    httpsPort: 0,
    certificates: table,
    challenges,
  });
  after(() => cluster.stop(500));
  const { httpPort, httpsPort } = await cluster.start();
  const caFile = path.join(tmpDir(), 'ca.pem');
  writeFileSync(caFile, ca.caPem);
  assert.equal(cluster.pids().length, 2);

  // New connections land on any of the three processes; all of them must agree.
  const many = async <T>(n: number, fn: () => Promise<T>) => Promise.all(Array.from({ length: n }, fn));
  for (const r of await many(12, () => request(httpsPort, 'c.test', { ca: ca.caPem }))) assert.equal(r.status, 200);

  // curl runs while this process (the primary) is blocked in execFileSync: only the helpers
  // can accept, so an answer proves they share both listening sockets.
  const curl = requireTool('curl');
  const helperAnswers = (url: string, ...extra: string[]) =>
    execFileSync(curl, ['-s', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', ...extra, url], { encoding: 'utf8', timeout: 10_000 });
  for (let i = 0; i < 3; i++) {
    assert.equal(helperAnswers(`https://d.test:${httpsPort}/`, '--cacert', caFile, '--resolve', `d.test:${httpsPort}:127.0.0.1`), '421', 'a helper completes the handshake (d.test has no route yet)');
    assert.equal(helperAnswers(`http://c.test:${httpPort}/x`, `--resolve`, `c.test:${httpPort}:127.0.0.1`), '301', 'a helper redirects on the HTTP socket');
    assert.equal(helperAnswers(`http://c.test:${httpPort}/x`, `--resolve`, `c.test:${httpPort}:[::1]`), '301', 'and on the second listen address');
  }

  // A tls-alpn-01 answer reaches the helpers as PEMs; openssl, too, runs while this process is blocked.
  const answer = ca.issue('answer', ['new.test']);
  await challenges.setTlsAlpn01('new.test', tls.createSecureContext({ cert: answer.certPem, key: answer.keyPem }), answer);
  const openssl = requireTool('openssl');
  const alpnCert = execFileSync(openssl, ['s_client', '-connect', `127.0.0.1:${httpsPort}`, '-servername', 'new.test', '-alpn', 'acme-tls/1'], {
    input: '',
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'ignore'],
    timeout: 10_000,
  }).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  assert.equal(alpnCert && new X509Certificate(alpnCert).serialNumber, new X509Certificate(answer.certPem).serialNumber, 'a helper answers the validation handshake');
  challenges.deleteTlsAlpn01('new.test');

  await challenges.setHttp01('tok', 'tok.key'); // resolves once every worker has it
  for (const r of await many(12, () => request(httpPort, 'c.test', { tls: false, path: '/.well-known/acme-challenge/tok' }))) assert.equal(r.body, 'tok.key');
  for (const r of await many(6, () => request(httpPort, 'c.test', { tls: false, path: '/.well-known/acme-challenge/early' }))) assert.equal(r.body, 'early.key', 'answers set before start reach the workers');

  const second = ca.issue('c', ['c.test', 'd.test']);
  table.activate(second);
  cluster.setRoutes([
    { host: 'c.test', upstreams: [up.url] },
    { host: 'd.test', upstreams: [up2.url] },
  ]);
  await cluster.settled();
  const want = new X509Certificate(second.certPem).serialNumber.toUpperCase();
  const serials = await many(12, () =>
    new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'c.test', ca: ca.caPem }, () => {
        resolve(s.getPeerCertificate().serialNumber.toUpperCase());
        s.destroy();
      });
      s.on('error', reject);
    }),
  );
  assert.deepEqual(new Set(serials), new Set([want]), 'every worker serves the new certificate');
  for (const r of await many(8, () => request(httpsPort, 'd.test', { ca: ca.caPem }))) assert.equal(JSON.parse(r.body).name, 'two');

  assert.throws(() => challenges.setTlsAlpn01('c.test', tls.createSecureContext({})), /came without its PEMs, so the proxy workers cannot serve it/);

  // Ticket keys are shared: a session from one worker resumes on whichever worker accepts next.
  const session = await new Promise<Buffer>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'c.test', ca: ca.caPem });
    s.once('session', (b: Buffer) => {
      resolve(b);
      s.destroy();
    });
    s.on('error', reject);
  });
  const reused = await many(12, () =>
    new Promise<boolean>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: httpsPort, servername: 'c.test', ca: ca.caPem, session }, () => {
        resolve(s.isSessionReused());
        s.destroy();
      });
      s.on('error', reject);
    }),
  );
  assert.deepEqual(new Set(reused), new Set([true]));

  const stats = await cluster.stats();
  assert.equal(stats.find((s) => s.route === 'c.test')!.requests, 12 + 6, '12 proxied here or in a helper, 6 redirected by helpers');
  assert.equal(stats.find((s) => s.route === 'd.test')!.requests, 8);

  // A worker that dies is replaced, with the current routes and certificates.
  const [victim] = cluster.pids();
  process.kill(victim!, 'SIGKILL');
  for (let i = 0; i < 50 && (cluster.pids().includes(victim!) || cluster.pids().length < 2); i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(cluster.pids().length, 2);
  assert.ok(!cluster.pids().includes(victim!));
  for (const r of await many(12, () => request(httpsPort, 'd.test', { ca: ca.caPem }))) assert.equal(JSON.parse(r.body).name, 'two');
});

test('a helper ignores Ctrl-C (the main process decides) and drains on SIGTERM: its request in flight finishes', { timeout: 60_000 }, async () => {
  const ca = new TestCa();
  const slow = await startUpstream((_req, res) => setTimeout(() => res.end('finished'), 700));
  const table = new CertificateTable();
  table.activate(ca.issue('s', ['s.test']));
  const cluster = new ProxyCluster({
    workers: 2,
    routes: [{ host: 's.test', upstreams: [slow.url] }],
    settings: { listen: ['127.0.0.1'] },
    httpPort: 0,
    httpsPort: 0,
    certificates: table,
    challenges: new BroadcastChallengeStore(),
  });
  after(() => cluster.stop(500));
  const { httpsPort } = await cluster.start();
  const caFile = path.join(tmpDir(), 'ca.pem');
  writeFileSync(caFile, ca.caPem);
  const [helper] = cluster.pids();
  const alive = () => {
    try {
      process.kill(helper!, 0);
      return true;
    } catch {
      return false;
    }
  };

  process.kill(helper!, 'SIGINT');
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(alive(), 'Ctrl-C alone does not stop a helper');
  // curl starts while this process (the main one, and the upstream) is blocked: only the helper can accept it.
  const inFlight = curl(`https://s.test:${httpsPort}/`, [], { ca: caFile });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  await new Promise((r) => setTimeout(r, 50));
  process.kill(helper!, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(alive(), 'the helper drains its request in flight before it exits');
  const r = await inFlight;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'finished');
  for (let i = 0; i < 100 && alive(); i++) await new Promise((res) => setTimeout(res, 50));
  assert.equal(alive(), false, 'then it exits');
});
