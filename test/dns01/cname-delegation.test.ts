import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { createDnsProvider } from '../../main/engine/acme/dns';
import type { DnsProvider } from '../../main/engine/acme/dns-provider';
import { dns01Solver } from '../../main/engine/acme/solvers';
import { type Bind, startBind } from '../helpers/bind';
import { type Pebble, startPebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { rejectsWith } from './rejects-with';

// Challenge delegation: the zone of home.example.test takes no updates (no key may change it),
// but its _acme-challenge name is a CNAME into acme.delegated.test, which Homeport may update.
// Pebble asks a recursive BIND in front of the authoritative one, which follows the CNAME into
// the other zone as a CA's resolver does (an authoritative server alone answers with the CNAME).

let bind: Bind;
let recursive: Bind;
let pebble: Pebble;
let provider: DnsProvider;

before(async () => {
  bind = await startBind({
    keys: [{ name: 'homeport-acme' }],
    zones: [
      {
        name: 'example.test',
        records: [
          '_acme-challenge.home IN CNAME home.example.test.acme.delegated.test.',
          '_acme-challenge.hop IN CNAME _acme-challenge.home.example.test.',
          '_acme-challenge.loop IN CNAME _acme-challenge.loop2.example.test.',
          '_acme-challenge.loop2 IN CNAME _acme-challenge.loop.example.test.',
        ],
      },
      { name: 'acme.delegated.test', updateKeys: ['homeport-acme'] },
    ],
  });
  recursive = await startBind({
    zones: [],
    recursion: true,
    forwardZones: ['example.test', 'delegated.test'].map((name) => ({ name, address: bind.address })),
  });
  pebble = await startPebble({ dnsServer: recursive.address });
  const key = bind.keys['homeport-acme']!;
  provider = createDnsProvider({ provider: 'rfc2136', server: bind.address, keyName: key.name, keyAlgorithm: key.algorithm, keySecret: key.secret });
});

after(async () => {
  await pebble?.stop();
  await recursive?.stop();
  await bind?.stop();
});

test('the TXT record goes where the CNAME chain ends (two hops), and cleanup removes it there', async () => {
  const solver = dns01Solver(provider, { resolver: bind.address, timeoutMs: 10_000 });
  await solver.present('hop.example.test', 'token', 'delegated-value');
  assert.deepEqual(await bind.txt('home.example.test.acme.delegated.test'), ['delegated-value']);
  await solver.cleanup('hop.example.test', 'token', 'delegated-value');
  assert.deepEqual(await bind.txt('home.example.test.acme.delegated.test'), []);
});

test('a CNAME loop is refused in plain words before anything is written', async () => {
  const solver = dns01Solver(provider, { resolver: bind.address, timeoutMs: 2_000 });
  await rejectsWith(solver.present('loop.example.test', 'token', 'v'), 'acme.dns-cname-loop', /_acme-challenge\.loop\.example\.test .*loop/);
});

test('Pebble issues for a name whose _acme-challenge is delegated by CNAME (wildcard included)', async () => {
  const issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    email: 'admin@example.test',
    acceptTos: true,
    dnsProvider: provider,
    resolver: bind.address,
  });
  try {
    const cert = await issuer.issue({ names: ['home.example.test', '*.home.example.test'], keyType: 'ec256', challenge: 'dns-01' });
    const leaf = new X509Certificate(cert.certPem);
    assert.ok(leaf.checkHost('home.example.test'));
    assert.ok(leaf.checkHost('nas.home.example.test'));
    assert.deepEqual(await bind.txt('home.example.test.acme.delegated.test'), [], 'cleaned up at the target');
  } finally {
    issuer.close();
  }
});
