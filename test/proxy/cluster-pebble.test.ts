import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { startPebble, type Pebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { CertificateTable } from '../../main/engine/proxy/cert-source';
import { BroadcastChallengeStore, ProxyCluster } from '../../main/engine/proxy/cluster';
import { echoUpstream, request } from './fixtures';

// With two serving processes, Pebble validates tls-alpn-01 on their shared HTTPS port: the
// challenge certificate travels to the helper as PEMs before the CA is asked to look.
let pebble: Pebble;
let cluster: ProxyCluster;
let issuer: AcmeIssuer;
let trust: string;
let upstream: import('node:http').Server | undefined;
const table = new CertificateTable();
const challenges = new BroadcastChallengeStore();

before(async () => {
  pebble = await startPebble();
  const up = await echoUpstream('web', false);
  cluster = new ProxyCluster({
    workers: 2,
    routes: [{ host: 'alpn.example.test', upstreams: [up.url] }],
    settings: { listen: ['127.0.0.1'] },
    httpPort: 0,
    httpsPort: pebble.tlsPort,
    certificates: table,
    challenges,
  });
  await cluster.start();
  upstream = up.server;
  issuer = new AcmeIssuer({ dataDir: tmpDir(), cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }], acceptTos: true, challenges });
  trust = await pebble.issuingRootPem();
});

after(async () => {
  issuer?.close();
  await cluster?.stop(100);
  await pebble?.stop();
  upstream?.closeAllConnections();
  upstream?.close();
});

function served(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: pebble.tlsPort, servername, ca: trust }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('tls-alpn-01 answered by the main process and its helper: a new name, then a renewal while the name is served', async () => {
  const first = await issuer.issue({ names: ['alpn.example.test'], keyType: 'ec256', challenge: 'tls-alpn-01' });
  table.activate({ id: 'alpn', ...first });
  assert.equal(challenges.hasTlsAlpn01(), false, 'the answer is withdrawn after validation');
  assert.deepEqual(challenges.pending(), []);
  await cluster.settled();
  const before = await served('alpn.example.test');
  const r = await request(pebble.tlsPort, 'alpn.example.test', { ca: trust, path: '/x' });
  assert.equal(r.status, 200);

  // The validation connection lands on either worker; both must answer it.
  const renewed = await issuer.issue({ names: ['alpn.example.test'], keyType: 'ec256', challenge: 'tls-alpn-01' });
  assert.equal(await served('alpn.example.test'), before, 'visitors kept the live certificate during validation');
  table.activate({ id: 'alpn', ...renewed });
  await cluster.settled();
  assert.notEqual(await served('alpn.example.test'), before);
});
