import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { Engine } from '../../main/engine/engine';
import { updateConfig } from '../../main/engine/config/file';
import { type Bind, startBind } from '../helpers/bind';
import { type Pebble, startPebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';

// The engine's choice of where dns-01 waits for its TXT record: with no resolver configured,
// at the RFC 2136 provider's own server (the zone's primary), not the system resolver, which
// cannot see test zones at all (nor, in real life, a record the primary has not pushed yet).

let bind: Bind;
let pebble: Pebble;

before(async () => {
  bind = await startBind({ keys: [{ name: 'homeport-acme' }], zones: [{ name: 'example.test', updateKeys: ['homeport-acme'] }] });
  pebble = await startPebble({ dnsServer: bind.address });
});

after(async () => {
  await pebble?.stop();
  await bind?.stop();
});

test('dns-01 through RFC 2136 without a configured resolver waits at the provider\'s server and issues a wildcard', async () => {
  const dataDir = tmpDir();
  const key = bind.keys['homeport-acme']!;
  await updateConfig(dataDir, (c) => ({
    ...c,
    email: 'admin@example.test',
    acceptTos: true,
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    listeners: { httpPort: pebble.httpPort, httpsPort: pebble.tlsPort },
    dnsProviders: { home: { provider: 'rfc2136', server: bind.address, keyName: key.name, keyAlgorithm: key.algorithm, keySecret: key.secret } },
    ct: { ...c.ct, refreshLogList: false },
  }));
  const engine = await Engine.open({ dataDir });
  try {
    assert.equal(engine.config.resolver, undefined);
    const cert = await engine.addCertificate({ names: ['*.example.test', 'example.test'], challenge: 'dns-01', dnsProvider: 'home' });
    const steps: string[] = [];
    const view = await engine.issue(cert.name, { onProgress: (s) => steps.push(s) });
    assert.equal(view.state, 'active', steps.join('\n'));
    const active = await engine.activeCertificate(cert.name);
    assert.ok(new X509Certificate(active!.certPem).checkHost('anything.example.test'));
    assert.deepEqual(await bind.txt('_acme-challenge.example.test'), [], 'the record is cleaned up');
  } finally {
    await engine.close();
  }
});
