import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { TestCa, echoUpstream, request } from './fixtures';
import { CertificateTable } from '../../main/engine/proxy/cert-source';
import { BroadcastChallengeStore, ProxyCluster } from '../../main/engine/proxy/cluster';

test('cluster workers share routes, certificates, http-01 answers and counters', async () => {
  const ca = new TestCa();
  const up = await echoUpstream('one');
  const up2 = await echoUpstream('two');
  const table = new CertificateTable();
  const first = ca.issue('c', ['c.test', 'd.test']);
  table.activate(first);
  const challenges = new BroadcastChallengeStore();
  challenges.setHttp01('early', 'early.key');
  const cluster = new ProxyCluster({
    workers: 2,
    routes: [{ host: 'c.test', upstreams: [up.url] }],
    settings: { listen: ['127.0.0.1'] },
    httpPort: 0,
    httpsPort: 0,
    certificates: table,
    challenges,
  });
  after(() => cluster.stop(500));
  const { httpPort, httpsPort } = await cluster.start();
  assert.equal(cluster.pids().length, 2);

  // New connections land on either worker; all of them must agree.
  const many = async <T>(n: number, fn: () => Promise<T>) => Promise.all(Array.from({ length: n }, fn));
  for (const r of await many(12, () => request(httpsPort, 'c.test', { ca: ca.caPem }))) assert.equal(r.status, 200);

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
  assert.equal(stats.find((s) => s.route === 'c.test')!.requests, 12);
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
