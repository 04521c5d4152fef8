import { after, before, beforeEach, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CloudflareProvider, createDnsProvider } from '../../main/engine/acme/dns';
import { freePort } from '../helpers/ports';
import { type FakeCloudflare, startFakeCloudflare } from './fake-cloudflare';
import { rejectsWith } from './rejects-with';

// The Cloudflare provider against a local server speaking Cloudflare's API v4.

const ZONE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const OTHER_ZONE = 'ffffffffffffffffffffffffffffffff';
const GOOD = 'good-token-with-dns-edit-0123456789abcdef';
const READ_ONLY = 'read-only-token-0123456789abcdefghijklmno';
const NO_ZONES = 'token-that-sees-no-zones-0123456789abcdef';

let cf: FakeCloudflare;
before(async () => {
  cf = await startFakeCloudflare(
    { [ZONE]: 'example.com', [OTHER_ZONE]: 'other.example.org' },
    {
      [GOOD]: { read: [ZONE, OTHER_ZONE], edit: [ZONE, OTHER_ZONE] },
      [READ_ONLY]: { read: [ZONE], edit: [] },
      [NO_ZONES]: { read: [], edit: [] },
    },
  );
});
after(() => cf?.stop());
beforeEach(() => {
  cf.records.length = 0;
  cf.requests.length = 0;
  cf.failWith = undefined;
});

const provider = (apiToken = GOOD, zoneId?: string) => new CloudflareProvider({ apiToken, zoneId, baseUrl: cf.baseUrl });
const txt = (name: string) => cf.records.filter((r) => r.type === 'TXT' && r.name === name).map((r) => r.content).sort();

describe('Cloudflare provider', () => {
  test('creates TXT records, a second alongside, and deletes exactly one by id', async () => {
    const p = provider();
    const name = '_acme-challenge.www.example.com';
    await p.setTxt(name, 'one');
    await p.setTxt(name, 'two');
    assert.deepEqual(txt(name), ['one', 'two']);
    assert.equal(cf.records[0]!.ttl, 60);
    assert.equal(cf.records[0]!.zone_id, ZONE);
    await p.removeTxt(name, 'one');
    assert.deepEqual(txt(name), ['two']);
    await p.removeTxt(name, 'never-added');
    assert.deepEqual(txt(name), ['two']);
    // The zone was looked up once (walking up from the name), then remembered.
    assert.deepEqual(cf.requests.filter((r) => r.startsWith('GET /client/v4/zones?')), [
      'GET /client/v4/zones?name=_acme-challenge.www.example.com',
      'GET /client/v4/zones?name=www.example.com',
      'GET /client/v4/zones?name=example.com',
    ]);
  });

  test('a configured zone id skips the look-up', async () => {
    const p = provider(GOOD, ZONE);
    await p.setTxt('_acme-challenge.example.com', 'direct');
    assert.deepEqual(txt('_acme-challenge.example.com'), ['direct']);
    assert.ok(!cf.requests.some((r) => r.includes('/zones?')), cf.requests.join('\n'));
  });

  test('a zone below the registrable domain is found', async () => {
    await provider().setTxt('_acme-challenge.nas.other.example.org', 'sub');
    assert.equal(cf.records[0]!.zone_id, OTHER_ZONE);
  });

  test('a record that already exists (a retry, or made by hand) is adopted and removable', async () => {
    await provider().setTxt('_acme-challenge.example.com', 'same');
    const fresh = provider();
    await fresh.setTxt('_acme-challenge.example.com', 'same');
    assert.deepEqual(txt('_acme-challenge.example.com'), ['same']);
    await fresh.removeTxt('_acme-challenge.example.com', 'same');
    assert.deepEqual(txt('_acme-challenge.example.com'), []);
    // Dashboard-made TXT content may carry quotes.
    cf.records.push({ id: 'f'.repeat(32), zone_id: ZONE, type: 'TXT', name: '_acme-challenge.example.com', content: '"quoted"', ttl: 1, proxied: false });
    await provider().removeTxt('_acme-challenge.example.com', 'quoted');
    assert.deepEqual(txt('_acme-challenge.example.com'), []);
  });

  test('built from config by the factory', async () => {
    const p = createDnsProvider({ provider: 'cloudflare', apiToken: ` ${GOOD}\n`, baseUrl: cf.baseUrl });
    assert.equal(p.id, 'cloudflare');
    await p.setTxt('_acme-challenge.example.com', 'cfg');
    assert.deepEqual(txt('_acme-challenge.example.com'), ['cfg']);
  });

  test('a wrong token: plain error, nothing created', async () => {
    await rejectsWith(provider('not-a-token-we-know-0123456789abcdefghijk').setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-bad-token', /did not accept the API token.*Invalid access token/);
    await rejectsWith(provider('bad token!').setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-bad-token', /Invalid format for Authorization header/);
    assert.equal(cf.records.length, 0);
  });

  test('a token without DNS edit permission', async () => {
    const err = await rejectsWith(provider(READ_ONLY).setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-permission', /may not change DNS records/);
    assert.match(err.fix!, /Zone → DNS → Edit/);
  });

  test('no zone the token can see, and a wrong zone id', async () => {
    await rejectsWith(provider(NO_ZONES).setTxt('_acme-challenge.www.example.com', 'x'), 'dns01.cloudflare-zone-not-found', /no zone for _acme-challenge\.www\.example\.com/);
    // The walk stops at the registrable domain: it never asks about "com".
    assert.ok(!cf.requests.includes('GET /client/v4/zones?name=com'));
    await rejectsWith(provider(GOOD, '0'.repeat(32)).setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-zone-not-found', /id 0{32}/);
  });

  test('rate limits and outages are told apart', async () => {
    cf.failWith = { status: 429, code: 10429, message: 'Rate limited' };
    await rejectsWith(provider().setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-rate-limited');
    cf.failWith = { status: 503, code: 10503, message: 'Service unavailable' };
    await rejectsWith(provider().setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-unavailable', /HTTP 503/);
  });

  test('the API unreachable', async () => {
    const port = await freePort();
    const p = new CloudflareProvider({ apiToken: GOOD, baseUrl: `http://127.0.0.1:${port}/client/v4` });
    await rejectsWith(p.setTxt('_acme-challenge.example.com', 'x'), 'dns01.cloudflare-unreachable', /ECONNREFUSED/);
  });
});
