import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { ManualClock } from '../../main/engine/clock';
import { Rfc2136Provider, createDnsProvider } from '../../main/engine/acme/dns';
import { exchange } from '../../main/engine/dns/transport';
import { signMessage, verifyResponse, type TsigKey } from '../../main/engine/acme/dns/tsig';
import { CLASS_IN, OPCODE_UPDATE, TYPE_SOA, TYPE_TXT, encodeHeader, encodeName, encodeRecord, encodeTxtRdata, u16 } from '../../main/engine/acme/dns/wire';
import { type Bind, startBind } from '../helpers/bind';
import { freePort } from '../helpers/ports';
import { rejectsWith } from './rejects-with';

// RFC 2136 + TSIG against a real BIND on loopback: every byte we sign, BIND checks, and every
// answer BIND signs, we check.

let bind: Bind;
before(async () => {
  bind = await startBind({
    keys: [
      { name: 'homeport' },
      { name: 'sha512-key', algorithm: 'hmac-sha512' },
      { name: 'sha1-key', algorithm: 'hmac-sha1' },
      { name: 'outsider' },
    ],
    zones: [
      { name: 'example.test', updateKeys: ['homeport', 'sha512-key', 'sha1-key'], records: ['www IN A 127.0.0.1'] },
      // A child zone on the same server: names below it must be updated there, not in the parent.
      { name: 'lab.example.test', updateKeys: ['homeport'] },
      // Served, but no key may update it.
      { name: 'locked.test' },
      // Updatable, but its journal cannot be written (see the SERVFAIL test).
      { name: 'stuck.test', updateKeys: ['homeport'] },
      // Many long TXT records: the answer does not fit a plain 512-byte UDP message.
      { name: 'big.test', records: Array.from({ length: 12 }, (_, i) => `many IN TXT "${String(i).padStart(2, '0')}${'x'.repeat(200)}"`) },
    ],
  });
});
after(() => bind?.stop());

function key(name = 'homeport', over: Partial<TsigKey> = {}): TsigKey {
  const k = bind.keys[name]!;
  return { name: k.name, algorithm: k.algorithm, secret: Buffer.from(k.secret, 'base64'), ...over };
}

function provider(over: Partial<ConstructorParameters<typeof Rfc2136Provider>[0]> = {}): Rfc2136Provider {
  return new Rfc2136Provider({ server: { host: bind.host, port: bind.port }, key: key(), ...over });
}

describe('RFC 2136 provider against BIND', () => {
  test('adds a TXT value, adds a second alongside, removes exactly one', async () => {
    const p = provider();
    const name = '_acme-challenge.www.example.test';
    await p.setTxt(name, 'first-value');
    assert.deepEqual(await bind.txt(name), ['first-value']);
    await p.setTxt(name, 'second-value');
    assert.deepEqual(await bind.txt(name), ['first-value', 'second-value']);
    await p.removeTxt(name, 'first-value');
    assert.deepEqual(await bind.txt(name), ['second-value']);
    // Removing what is not there is not an error, and leaves the rest alone.
    await p.removeTxt(name, 'never-added');
    assert.deepEqual(await bind.txt(name), ['second-value']);
    await p.removeTxt(name, 'second-value');
    const res = await bind.query(name, 'TXT');
    assert.equal(res.answers!.length, 0);
  });

  test('finds the zone with an SOA query, including a child zone on the same server', async () => {
    const p = provider();
    assert.equal(await p.zoneFor('_acme-challenge.deep.www.example.test'), 'example.test');
    assert.equal(await p.zoneFor('_acme-challenge.example.test.'), 'example.test');
    assert.equal(await p.zoneFor('_acme-challenge.nas.lab.example.test'), 'lab.example.test');
    await p.setTxt('_acme-challenge.nas.lab.example.test', 'child');
    assert.deepEqual(await bind.txt('_acme-challenge.nas.lab.example.test'), ['child']);
    await p.removeTxt('_acme-challenge.nas.lab.example.test', 'child');
    assert.deepEqual(await bind.txt('_acme-challenge.nas.lab.example.test'), []);
  });

  test('uses a configured zone, over TCP only, with sha512 and sha1 keys', async () => {
    for (const k of ['sha512-key', 'sha1-key']) {
      const p = provider({ key: key(k), zone: 'example.test.', tcp: true });
      await p.setTxt('_acme-challenge.example.test', `via-${k}`);
      assert.deepEqual(await bind.txt('_acme-challenge.example.test'), [`via-${k}`]);
      await p.removeTxt('_acme-challenge.example.test', `via-${k}`);
    }
    assert.deepEqual(await bind.txt('_acme-challenge.example.test'), []);
  });

  test('built from config by the factory', async () => {
    const k = bind.keys['homeport']!;
    const p = createDnsProvider({ provider: 'rfc2136', server: bind.address, keyName: k.name, keyAlgorithm: 'HMAC-SHA256', keySecret: k.secret });
    assert.equal(p.id, 'rfc2136');
    await p.setTxt('_acme-challenge.factory.example.test', 'from-config');
    assert.deepEqual(await bind.txt('_acme-challenge.factory.example.test'), ['from-config']);
    await p.removeTxt('_acme-challenge.factory.example.test', 'from-config');
  });

  test('a wrong TSIG secret is named plainly, and nothing changes', async () => {
    const p = provider({ key: key('homeport', { secret: randomBytes(32) }) });
    await rejectsWith(
      p.setTxt('_acme-challenge.www.example.test', 'forged'),
      'dns01.tsig-rejected',
      /rejected the TSIG key 'homeport'.*check the key name, algorithm and secret/,
    );
    assert.deepEqual(await bind.txt('_acme-challenge.www.example.test'), []);
  });

  test('an unknown key name and a wrong algorithm are named plainly', async () => {
    await rejectsWith(provider({ key: key('homeport', { name: 'nobody' }) }).setTxt('_acme-challenge.example.test', 'x'), 'dns01.tsig-rejected', /'nobody'/);
    await rejectsWith(provider({ key: key('homeport', { algorithm: 'hmac-sha512' }) }).setTxt('_acme-challenge.example.test', 'x'), 'dns01.tsig-rejected');
  });

  test('a zone the key may not update: updates not allowed', async () => {
    await rejectsWith(provider().setTxt('_acme-challenge.locked.test', 'x'), 'dns01.update-refused', /updates are not allowed for zone locked\.test/);
    await rejectsWith(provider({ key: key('outsider') }).setTxt('_acme-challenge.example.test', 'x'), 'dns01.update-refused', /key 'outsider'/);
  });

  test('a name in no zone of the server: zone not found', async () => {
    await rejectsWith(provider().setTxt('_acme-challenge.www.unknown.test', 'x'), 'dns01.zone-not-found', /does not serve a zone that contains _acme-challenge\.www\.unknown\.test/);
  });

  test('a configured zone that does not hold the name, or that the server does not serve', async () => {
    await rejectsWith(provider({ zone: 'example.test' }).setTxt('_acme-challenge.other.test', 'x'), 'dns01.name-outside-zone');
    await rejectsWith(provider({ zone: 'unknown.test' }).setTxt('_acme-challenge.unknown.test', 'x'), 'dns01.not-authoritative', /not authoritative for zone unknown\.test/);
  });

  test('a zone whose journal the server cannot write: BIND answers SERVFAIL, the fix points at its files', async () => {
    // A directory where BIND keeps the zone's journal: real BIND, really failing to write it.
    mkdirSync(path.join(bind.dir, 'stuck.test.zone.jnl'));
    const err = await rejectsWith(provider().setTxt('_acme-challenge.stuck.test', 'x'), 'dns01.update-failed', /failed to apply the update to zone stuck\.test/);
    assert.match(err.fix!, /journal file/);
    assert.deepEqual(await bind.txt('_acme-challenge.stuck.test'), [], 'nothing was added');
  });

  test('a clock far off: BIND answers BADTIME, reported as clock skew', async () => {
    const clock = new ManualClock(Date.now() - 3_600_000);
    await rejectsWith(provider({ clock, zone: 'example.test' }).setTxt('_acme-challenge.example.test', 'x'), 'dns01.clock-skew', /about 60 minutes/);
  });

  test('a server that swallows UDP: unreachable after the retries', async (t) => {
    const silent = dgram.createSocket('udp4');
    let received = 0;
    silent.on('message', () => received++);
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    t.after(() => silent.close());
    const p = new Rfc2136Provider({ server: { host: '127.0.0.1', port: silent.address().port }, key: key(), zone: 'example.test', timeoutMs: 100 });
    await rejectsWith(p.setTxt('_acme-challenge.example.test', 'x'), 'dns01.server-unreachable', /did not answer/);
    assert.equal(received, 3, 'sent three times');
  });

  test('nothing listening: unreachable, over UDP and TCP', async () => {
    const port = await freePort();
    for (const tcp of [false, true]) {
      const p = new Rfc2136Provider({ server: { host: '127.0.0.1', port }, key: key(), zone: 'example.test', tcp, timeoutMs: 500 });
      await rejectsWith(p.setTxt('_acme-challenge.example.test', 'x'), 'dns01.server-unreachable', new RegExp(`127\\.0\\.0\\.1:${port}.*refused`));
    }
  });
});

describe('TSIG on BIND answers', () => {
  function updateMessage(): Buffer {
    return Buffer.concat([
      encodeHeader({ id: randomInt(0, 65536), flags: OPCODE_UPDATE << 11, counts: [1, 0, 1, 0] }),
      encodeName('example.test'),
      u16(TYPE_SOA),
      u16(CLASS_IN),
      encodeRecord({ name: '_acme-challenge.tsig.example.test', type: TYPE_TXT, klass: CLASS_IN, ttl: 60, rdata: encodeTxtRdata('signed') }),
    ]);
  }

  test('verifies a genuine answer and rejects a changed one or a foreign key', async () => {
    const k = key();
    const signed = signMessage(updateMessage(), k, Date.now());
    const response = await exchange({ host: bind.host, port: bind.port }, signed.message);
    assert.deepEqual(verifyResponse(response, signed.mac, k, Date.now()), { status: 'ok' });

    const tampered = Buffer.from(response);
    tampered[3] ^= 0x01; // the response code's low bit
    assert.equal(verifyResponse(tampered, signed.mac, k, Date.now()).status, 'bad-mac');
    assert.equal(verifyResponse(response, randomBytes(32), k, Date.now()).status, 'bad-mac', 'bound to our request MAC');
    assert.equal(verifyResponse(response, signed.mac, { ...k, secret: randomBytes(32) }, Date.now()).status, 'bad-mac');
    assert.equal(verifyResponse(response, signed.mac, { ...k, name: 'other' }, Date.now()).status, 'wrong-key');
    assert.equal(verifyResponse(response, signed.mac, k, Date.now() + 3_600_000).status, 'bad-time');
  });

  test('a truncated UDP answer is asked again over TCP', async () => {
    assert.equal((await bind.query('many.big.test', 'TXT')).flag_tc, true, 'plain UDP answer is truncated');
    const query = dnsPacket.encode({ type: 'query', id: randomInt(0, 65536), questions: [{ type: 'TXT', name: 'many.big.test', class: 'IN' }] });
    const response = dnsPacket.decode(await exchange({ host: bind.host, port: bind.port }, query));
    assert.equal(response.flag_tc, false);
    assert.equal(response.answers!.length, 12);
  });
});
