import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { Rfc2136Provider, createDnsProvider } from '../../main/engine/acme/dns';
import type { DnsProvider } from '../../main/engine/acme/dns-provider';
import { dns01Solver } from '../../main/engine/acme/solvers';
import { dryRun } from '../../main/engine/preflight/dry-run';
import { type Bind, startBind } from '../helpers/bind';
import { type Pebble, startPebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { rejectsWith } from './rejects-with';

// End to end: Pebble resolves names at a real BIND, and Homeport proves control of them by
// changing BIND's zones through RFC 2136 updates signed with TSIG — the way a self-hoster
// with their own DNS server gets a wildcard certificate. challtestsrv holds no TXT record
// here, so a valid order proves Pebble read the records from BIND.

let bind: Bind;
let pebble: Pebble;
let issuer: AcmeIssuer;

before(async () => {
  bind = await startBind({
    keys: [{ name: 'homeport-acme' }],
    zones: [
      { name: 'example.test', updateKeys: ['homeport-acme'] },
      { name: 'lab.example.test', updateKeys: ['homeport-acme'] },
    ],
  });
  pebble = await startPebble({ dnsServer: bind.address });
  const key = bind.keys['homeport-acme']!;
  issuer = new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    email: 'admin@example.test',
    acceptTos: true,
    dnsProvider: createDnsProvider({ provider: 'rfc2136', server: bind.address, keyName: key.name, keyAlgorithm: key.algorithm, keySecret: key.secret }),
    resolver: bind.address,
  });
});

after(async () => {
  issuer?.close();
  await pebble?.stop();
  await bind?.stop();
});

test('a wildcard certificate from Pebble through RFC 2136 updates to BIND', async () => {
  const names = ['*.example.test', 'example.test', 'nas.lab.example.test'];
  const cert = await issuer.issue({ names, keyType: 'ec256', challenge: 'dns-01' });

  const leaf = new X509Certificate(cert.certPem);
  const chain = (cert.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
  const root = new X509Certificate(await pebble.issuingRootPem());
  assert.ok(chain.length >= 1 && leaf.verify(chain[0]!.publicKey), 'leaf signed by the intermediate');
  assert.ok(chain[chain.length - 1]!.verify(root.publicKey), "chain ends at Pebble's root");
  assert.ok(leaf.checkPrivateKey(createPrivateKey(cert.keyPem)));
  for (const host of ['anything.example.test', 'example.test', 'nas.lab.example.test']) assert.ok(leaf.checkHost(host), host);
  assert.match(leaf.subjectAltName ?? '', /DNS:\*\.example\.test/);

  // The wildcard and its base name shared one TXT name (two values side by side); every
  // value is gone again, from both zones.
  assert.deepEqual(await bind.txt('_acme-challenge.example.test'), []);
  assert.deepEqual(await bind.txt('_acme-challenge.nas.lab.example.test'), []);
});

test('a DNS server that does not implement UPDATE (challtestsrv\'s) gets a plain error naming that', async () => {
  // challtestsrv answers queries only; its DNS library refuses other opcodes with NOTIMP.
  const key = bind.keys['homeport-acme']!;
  const provider = new Rfc2136Provider({
    server: { host: '127.0.0.1', port: pebble.dnsPort },
    key: { name: key.name, algorithm: key.algorithm, secret: Buffer.from(key.secret, 'base64') },
    zone: 'example.test',
  });
  await rejectsWith(provider.setTxt('_acme-challenge.www.example.test', 'value'), 'dns01.updates-unsupported', /does not accept dynamic updates/);
});

/** The RFC 2136 provider at BIND; `written` sees every write. */
function bindProvider(written: (fqdn: string) => void): DnsProvider {
  const key = bind.keys['homeport-acme']!;
  const provider = createDnsProvider({ provider: 'rfc2136', server: bind.address, keyName: key.name, keyAlgorithm: key.algorithm, keySecret: key.secret });
  return {
    id: provider.id,
    setTxt: async (fqdn, value) => {
      await provider.setTxt(fqdn, value);
      written(fqdn);
    },
    removeTxt: (fqdn, value) => provider.removeTxt(fqdn, value),
  };
}

/** challtestsrv's DNS never shows BIND's records: a wait for a TXT record there always runs to its end. */
const elsewhere = () => `127.0.0.1:${pebble.dnsPort}`;

function issuerLookingElsewhere(dnsPropagationTimeoutMs: number, written: (fqdn: string) => void): AcmeIssuer {
  return new AcmeIssuer({
    dataDir: tmpDir(),
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    email: 'admin@example.test',
    acceptTos: true,
    dnsProvider: bindProvider(written),
    resolver: elsewhere(),
    dnsPropagationTimeoutMs,
  });
}

test('a TXT record that never shows up: the propagation timeout is the error, and the record is removed again', async () => {
  const writes: string[] = [];
  const lost = issuerLookingElsewhere(300, (fqdn) => writes.push(fqdn));
  try {
    await rejectsWith(lost.issue({ names: ['slow.example.test'], keyType: 'ec256', challenge: 'dns-01' }), 'acme.dns-propagation-timeout', /_acme-challenge\.slow\.example\.test did not appear/);
  } finally {
    lost.close();
  }
  assert.deepEqual(writes, ['_acme-challenge.slow.example.test'], 'the record was written');
  assert.deepEqual(await bind.txt('_acme-challenge.slow.example.test'), []);
});

test('an issuance aborted while waiting for the TXT record removes the record again', async () => {
  const abort = new AbortController();
  const lost = issuerLookingElsewhere(60_000, () => setTimeout(() => abort.abort(), 200));
  try {
    await assert.rejects(lost.issue({ names: ['aborted.example.test'], keyType: 'ec256', challenge: 'dns-01', signal: abort.signal }), { name: 'AbortError' });
  } finally {
    lost.close();
  }
  assert.ok(abort.signal.aborted, 'aborted after the record was written');
  assert.deepEqual(await bind.txt('_acme-challenge.aborted.example.test'), []);
});

test('a dry run whose TXT record never shows up fails with the timeout and removes the record again', async () => {
  const writes: string[] = [];
  const solver = dns01Solver(bindProvider((fqdn) => writes.push(fqdn)), { resolver: elsewhere(), timeoutMs: 300 });
  const { results } = await dryRun({ client: await issuer.acmeClient(), names: ['dry.example.test'], challenge: 'dns-01', httpPort: 0, httpsPort: 0, solvers: { 'dns-01': solver } });
  const result = results.get('dry.example.test')!;
  assert.equal(result.status, 'fail');
  assert.match(result.summary, /_acme-challenge\.dry\.example\.test did not appear/);
  assert.deepEqual(writes, ['_acme-challenge.dry.example.test'], 'the record was written');
  assert.deepEqual(await bind.txt('_acme-challenge.dry.example.test'), []);
});
