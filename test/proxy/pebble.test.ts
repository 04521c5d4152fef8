import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPebble, type Pebble } from '../helpers/pebble';
import { challtestsrvDnsProvider } from '../helpers/challtestsrv-dns';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { echoUpstream, startProxy, request, type TestProxy } from './fixtures';

// The proxy's own listeners answer the CA while they serve visitors: http-01 on the HTTP
// port, tls-alpn-01 on the HTTPS port (even for a name whose certificate is live), and the
// certificates Pebble issues are then served by SNI.
let pebble: Pebble;
let p: TestProxy;
let issuer: AcmeIssuer;
let dataDir: string;
let trust: string;
let upstream: Awaited<ReturnType<typeof echoUpstream>>;

before(async () => {
  pebble = await startPebble();
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'homeport-proxy-pebble-'));
  const up = (upstream = await echoUpstream('web', false));
  p = await startProxy(
    [
      { host: 'web.example.test', upstreams: [up.url] },
      { host: '*.wild.example.test', upstreams: [up.url] },
    ],
    { extra: { httpPort: pebble.httpPort, httpsPort: pebble.tlsPort }, autoStop: false },
  );
  issuer = new AcmeIssuer({
    dataDir,
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    acceptTos: true,
    challenges: p.challenges,
    dnsProvider: challtestsrvDnsProvider(pebble),
    resolver: `127.0.0.1:${pebble.dnsPort}`,
  });
  trust = await pebble.issuingRootPem();
});

after(async () => {
  issuer?.close();
  await p?.proxy.stop(100);
  upstream?.server.closeAllConnections();
  upstream?.server.close();
  await pebble?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function served(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: p.httpsPort, servername, ca: trust }, () => {
      resolve(s.getPeerCertificate().serialNumber.toUpperCase());
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('http-01 is answered on the proxy\'s HTTP port while issuing; the certificate is then served', async () => {
  const cert = await issuer.issue({ names: ['web.example.test'], keyType: 'ec256', challenge: 'http-01' });
  p.table.activate({ id: 'web', ...cert });
  const r = await request(p.httpsPort, 'web.example.test', { ca: trust, path: '/after' });
  assert.equal(r.status, 200, 'the client verified Pebble\'s chain as served by the proxy');
  assert.equal(JSON.parse(r.body).url, '/after');
});

test('tls-alpn-01 on the proxy\'s HTTPS port, for a new name and for a name that is being served', async () => {
  const fresh = await issuer.issue({ names: ['alpn.example.test'], keyType: 'ec256', challenge: 'tls-alpn-01' });
  p.table.activate({ id: 'alpn', ...fresh });
  const before = await served('web.example.test');
  const renewed = await issuer.issue({ names: ['web.example.test'], keyType: 'ec256', challenge: 'tls-alpn-01' });
  assert.equal(await served('web.example.test'), before, 'visitors kept the live certificate during validation');
  p.table.activate({ id: 'web', ...renewed });
  assert.notEqual(await served('web.example.test'), before, 'the renewal is served after activation');
  assert.equal(p.challenges.hasTlsAlpn01(), false);
});

test('SNI with Pebble certificates: two names and a wildcard', async () => {
  const wild = await issuer.issue({ names: ['*.wild.example.test'], keyType: 'ec256', challenge: 'dns-01' });
  p.table.activate({ id: 'wild', ...wild });
  const r = await request(p.httpsPort, 'photos.wild.example.test', { ca: trust });
  assert.equal(r.status, 200);
  const serials = new Set([await served('web.example.test'), await served('alpn.example.test'), await served('photos.wild.example.test')]);
  assert.equal(serials.size, 3, 'each name got its own certificate');
});
