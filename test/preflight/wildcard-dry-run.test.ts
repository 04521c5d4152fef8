import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { startPebble, Pebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { startWorld, World, HOST_V4, HOST_V6 } from './zones';
import { freePort } from '../helpers/ports';
import { check, parseReport } from './check-cli';

// A wildcard's dry run: dns-01 through the RFC 2136 provider configured in config.json, at a
// Pebble that resolves names at the same BIND, so a pass proves the TXT record was published.
let world: World;
let pebble: Pebble;
before(async () => {
  world = await startWorld({ updateKey: true });
  pebble = await startPebble({ dnsServer: world.parent.address });
});
after(async () => {
  await pebble?.stop();
  await world?.stop();
});

test('a wildcard is ready with the configured DNS provider, and its dns-01 dry run passes at Pebble', async () => {
  const dataDir = tmpDir();
  const key = world.parent.keys['homeport-acme']!;
  await fs.writeFile(
    path.join(dataDir, 'config.json'),
    JSON.stringify({
      acceptTos: true,
      resolver: world.parent.address,
      cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
      dnsProviders: {
        home: { provider: 'rfc2136', server: world.parent.address, keyName: key.name, keyAlgorithm: key.algorithm, keySecret: key.secret },
      },
    }),
  );
  const common = ['*.example.com', '--public-ip', HOST_V4, '--public-ip', HOST_V6, '--http-port', String(await freePort()),
    '--https-port', String(await freePort()), '--data-dir', dataDir, '--json'];

  const offline = parseReport(await check(common));
  assert.equal(offline.recommendedChallenge, 'dns-01');
  const challenge = offline.names[0].checks.find((c) => c.id === 'challenge')!;
  assert.equal(challenge.status, 'pass');
  assert.match(challenge.summary, /^Use dns-01 for \*\.example\.com/);

  const r = await check([...common, '--dry-run']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const dry = parseReport(r).names[0].checks.find((c) => c.id === 'dry-run')!;
  assert.equal(dry.status, 'pass', JSON.stringify(dry));
  assert.match(dry.summary, /validated \*\.example\.com with dns-01/);
  assert.deepEqual(await world.parent.txt('_acme-challenge.example.com'), [], 'the TXT record is removed again');

  const unknown = await check([...common, '--dns-provider', 'elsewhere']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /There is no DNS provider "elsewhere" in the configuration\. Fix: Use one of home\./);
});
