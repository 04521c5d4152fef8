import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as https from 'node:https';
import { startPebble } from './helpers/pebble';

// The harness every ACME test stands on: Pebble answers its directory over TLS that our
// throw-away CA signed, and hands out its issuing root.
test('pebble harness starts a real CA with a trusted directory and an issuing root', async (t) => {
  const pebble = await startPebble();
  t.after(() => pebble.stop());
  const dir = await new Promise<Record<string, unknown>>((resolve, reject) => {
    https.get(pebble.directoryUrl, { ca: pebble.caRootPem }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    }).on('error', reject);
  });
  assert.equal(typeof dir.newOrder, 'string');
  assert.match(await pebble.issuingRootPem(), /BEGIN CERTIFICATE/);
});
