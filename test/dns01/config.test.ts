import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { HomeportError } from '../../main/engine/errors';
import { createDnsProvider, parseDnsProviderConfig } from '../../main/engine/acme/dns';
import { parseDnsServer } from '../../main/engine/dns/transport';
import { parseTsigAlgorithm } from '../../main/engine/acme/dns/tsig';
import { encodeTxtRdata } from '../../main/engine/acme/dns/wire';

// What a person writes in config.json (dnsProviders) and the message they get when it is wrong.

const SECRET = Buffer.alloc(32, 7).toString('base64');
const rfc2136 = { provider: 'rfc2136', server: 'ns1.example.com:53', keyName: 'homeport', keySecret: SECRET };

function problem(input: unknown, name?: string): HomeportError {
  try {
    parseDnsProviderConfig(input, name);
  } catch (e) {
    assert.ok(e instanceof HomeportError);
    assert.equal(e.code, 'config.dns-provider');
    assert.ok(e.fix);
    return e;
  }
  assert.fail('expected a config error');
}

test('valid configurations pass, with defaults', () => {
  assert.deepEqual(parseDnsProviderConfig(rfc2136), rfc2136);
  const full = { ...rfc2136, server: '[2001:db8::53]:5353', keyAlgorithm: 'hmac-sha512', zone: 'example.com.', tcp: true, ttl: 30 };
  assert.deepEqual(parseDnsProviderConfig(full), full);
  const cf = { provider: 'cloudflare', apiToken: 'abc_DEF-123', zoneId: 'a1b2c3d4e5f60718293a4b5c6d7e8f90' };
  assert.deepEqual(parseDnsProviderConfig(cf), cf);
  assert.equal(createDnsProvider(rfc2136).id, 'rfc2136');
  assert.equal(createDnsProvider(cf).id, 'cloudflare');
});

test('each wrong field is named with what a right one looks like', () => {
  assert.match(problem({ provider: 'route53' }).message, /"provider" must be "rfc2136" or "cloudflare", not "route53"/);
  assert.match(problem({}).message, /"provider" must be/);
  assert.match(problem('rfc2136').message, /must be an object/);
  assert.match(problem({ ...rfc2136, server: 'ns1.example.com:99999' }).message, /"server" must be host:port/);
  assert.match(problem({ ...rfc2136, server: undefined }).message, /"server" is required/);
  assert.match(problem({ ...rfc2136, keyAlgorithm: 'hmac-md5' }).message, /"keyAlgorithm" must be one of hmac-sha1, .*hmac-sha256/);
  assert.match(problem({ ...rfc2136, keySecret: 'not base64!' }).message, /"keySecret" must be the key's base64 secret/);
  assert.match(problem({ ...rfc2136, keyName: '' }).message, /"keyName"/);
  assert.match(problem({ ...rfc2136, zone: 'exa mple.com' }).message, /"zone" must be a DNS zone name/);
  assert.match(problem({ ...rfc2136, keysecret: SECRET }).message, /unknown setting "keysecret"/);
  assert.match(problem({ provider: 'cloudflare' }, 'home').message, /^dns-01 provider "home": "apiToken" is required/);
  assert.match(problem({ provider: 'cloudflare', apiKey: 'x', email: 'me@example.com' }).message, /API token.*not the Global API Key/);
  assert.match(problem({ provider: 'cloudflare', apiToken: 't', zoneId: 'example.com' }).message, /"zoneId" must be the 32-character zone id/);
});

test('server addresses and algorithm names', () => {
  assert.deepEqual(parseDnsServer('192.0.2.1'), { host: '192.0.2.1', port: 53 });
  assert.deepEqual(parseDnsServer('ns1.example.com:5353'), { host: 'ns1.example.com', port: 5353 });
  assert.deepEqual(parseDnsServer('::1'), { host: '::1', port: 53 });
  assert.deepEqual(parseDnsServer('[::1]:8053'), { host: '::1', port: 8053 });
  for (const bad of ['', 'host:0', 'host:x', '[nothex]:53', 'a b:53', 'http://ns1:53']) assert.equal(parseDnsServer(bad), undefined, bad);
  assert.equal(parseTsigAlgorithm('HMAC-SHA256.'), 'hmac-sha256');
  assert.equal(parseTsigAlgorithm('sha1'), 'hmac-sha1');
  assert.equal(parseTsigAlgorithm('hmac-md5'), undefined);
});

test('TXT values longer than 255 bytes are split into character-strings', () => {
  const rdata = encodeTxtRdata('a'.repeat(300));
  assert.equal(rdata.length, 302);
  assert.equal(rdata[0], 255);
  assert.equal(rdata[256], 45);
  assert.deepEqual(encodeTxtRdata(''), Buffer.from([0]));
});
