import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CaClient, type Authorization, type Order } from '../../main/engine/acme/client';
import { CaConnection, fetchDirectory } from '../../main/engine/acme/transport';
import { startPebble, Pebble } from '../helpers/pebble';
import { freePort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';
import { CHECK_IDS } from '../../main/engine/preflight/types';
import { startWorld, World, HOST_V4, HOST_V6 } from './zones';
import { check, parseReport } from './check-cli';

// `homeport check` end to end: exit codes, the JSON report's shape, and the dry run against a
// real Pebble (the staging stand-in): a real order whose challenge is answered, then dropped.
let world: World;
let pebble: Pebble;
before(async () => {
  const [httpPort, tlsPort] = [await freePort(), await freePort()];
  [world, pebble] = await Promise.all([startWorld(), startPebble({ httpPort, tlsPort })]);
});
after(async () => {
  await Promise.all([world?.stop(), pebble?.stop()]);
});

async function base(extra: string[] = []): Promise<string[]> {
  return [
    '--resolver', world.parent.address,
    '--public-ip', HOST_V4,
    '--public-ip', HOST_V6,
    '--http-port', String(await freePort()),
    '--https-port', String(await freePort()),
    '--data-dir', tmpDir(),
    '--json',
    ...extra,
  ];
}

test('exit 0 and the documented JSON shape when ready', async () => {
  const r = await check(['www.example.com', ...(await base())]);
  assert.equal(r.code, 0, r.stderr);
  const report = parseReport(r);
  assert.deepEqual(Object.keys(report), ['verdict', 'recommendedChallenge', 'names']);
  assert.equal(report.verdict, 'ready');
  assert.equal(report.recommendedChallenge, 'http-01');
  assert.equal(report.names[0].name, 'www.example.com');
  assert.deepEqual(report.names[0].checks.map((c) => c.id), CHECK_IDS);
  for (const c of report.names[0].checks) {
    assert.deepEqual(Object.keys(c), ['id', 'status', 'summary', 'evidence', 'fix']);
    assert.ok(['pass', 'warn', 'fail', 'skip'].includes(c.status));
  }
  // Offline preset identities: Let's Encrypt is letsencrypt.org, which example.com's CAA allows.
  assert.equal(report.names[0].checks.find((c) => c.id === 'caa')!.status, 'pass');
});

test('exit 1 when blocked, with the human report naming the fix', async () => {
  const json = await check(['v6bad.example.com', 'www.example.com', ...(await base())]);
  assert.equal(json.code, 1);
  const report = parseReport(json);
  assert.equal(report.verdict, 'blocked');
  assert.deepEqual(report.names.map((n) => n.name), ['v6bad.example.com', 'www.example.com']);
  const text = await check(['v6bad.example.com', ...(await base()).filter((a) => a !== '--json')]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /FAIL {2}dns {12}v6bad\.example\.com has an AAAA record 2001:db8::99 that is not this host: Let's Encrypt prefers IPv6 and will fail\./);
  assert.match(text.stdout, /Fix: Remove the AAAA record or point it at this host's IPv6 address/);
  assert.match(text.stdout, /^Blocked: fix the FAIL lines above first\. Then issue with dns-01\.$/m);
});

test('exit 2 when the check cannot run: unreachable resolver, bad arguments, unknown CA', async () => {
  const nobody = `127.0.0.1:${await freePort()}`;
  const dead = await check(['www.example.com', ...(await base()).map((a) => (a === world.parent.address ? nobody : a))]);
  assert.equal(dead.code, 2);
  assert.equal(JSON.parse(dead.stdout).error.code, 'preflight.dns-unreachable');
  const badIp = await check(['www.example.com', ...(await base()), '--public-ip', 'not-an-ip']);
  assert.equal(badIp.code, 2);
  assert.match(badIp.stderr, /--public-ip "not-an-ip" is not valid\. Fix: Give IPv4 or IPv6 addresses/);
  const badCa = await check(['www.example.com', ...(await base()), '--ca', 'nonsense']);
  assert.equal(badCa.code, 2);
  assert.match(badCa.stderr, /--ca "nonsense" is not valid\. Fix: Use one of letsencrypt, /);
});

test('--ca URL reads the directory; --dry-run validates for real at Pebble and issues nothing', async () => {
  const dataDir = tmpDir();
  const args = [
    'www.example.com',
    '--resolver', world.parent.address,
    '--public-ip', HOST_V4,
    '--public-ip', HOST_V6,
    // Pebble connects to its httpPort on 127.0.0.1 (challtestsrv answers 127.0.0.1 for every name).
    '--http-port', String(pebble.httpPort),
    '--https-port', String(pebble.tlsPort),
    '--data-dir', dataDir,
    '--ca', pebble.directoryUrl,
    '--ca-root', pebble.caRootFile,
    '--json',
  ];
  const offline = parseReport(await check(args));
  const caa = offline.names[0].checks.find((c) => c.id === 'caa')!;
  // Pebble's directory publishes no meta.caaIdentities, so the CAA records cannot be matched.
  assert.equal(caa.status, 'warn');
  assert.match(caa.summary, /allow only letsencrypt\.org; the CA at 127\.0\.0\.1:\d+ does not publish its CAA identity/);
  assert.equal(offline.names[0].checks.find((c) => c.id === 'dry-run')!.status, 'skip');
  await assert.rejects(fs.stat(path.join(dataDir, 'accounts')), 'nothing was sent to the CA without --dry-run');

  const noTos = await check([...args, '--dry-run']);
  const refused = parseReport(noTos).names[0].checks.find((c) => c.id === 'dry-run')!;
  assert.equal(refused.status, 'fail');
  assert.match(refused.summary, /asks you to accept its terms of service/);

  const r = await check([...args, '--dry-run', '--accept-tos']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const dry = parseReport(r).names[0].checks.find((c) => c.id === 'dry-run')!;
  assert.equal(dry.status, 'pass', JSON.stringify(dry));
  assert.match(dry.summary, /^The CA at 127\.0\.0\.1:\d+ validated www\.example\.com with http-01( \(.*\))?: a real issuance will get through\.$/);
  assert.match(dry.evidence.at(-1)!, /^authorization https:\/\/127\.0\.0\.1:\d+\/\S+: valid$/);

  // Nothing usable is left at the CA: the authorization is deactivated, the order never finalized.
  const [caId] = await fs.readdir(path.join(dataDir, 'accounts'));
  const dir = path.join(dataDir, 'accounts', caId);
  const conn = new CaConnection('pebble', { caPem: pebble.caRootPem });
  try {
    const client = new CaClient(conn, pebble.directoryUrl, await fs.readFile(path.join(dir, 'key.pem'), 'utf8'), await fetchDirectory(conn, pebble.directoryUrl));
    client.useAccount(JSON.parse(await fs.readFile(path.join(dir, 'account.json'), 'utf8')).url);
    const authzUrl = /^authorization (\S+): valid$/.exec(dry.evidence.at(-1)!)![1];
    const orderUrl = /^order (\S+) at /.exec(dry.evidence[0])![1];
    const [authz] = await client.run((c) => c.getAuthorizations({ authorizations: [authzUrl] } as Order));
    assert.equal((authz as Authorization).status, 'deactivated');
    const order = await client.run((c) => c.getOrder({ url: orderUrl } as Order));
    assert.notEqual(order.status, 'valid');
    assert.equal(order.certificate, undefined);
  } finally {
    conn.close();
  }
  assert.match(dry.evidence[0], /^order https:\/\/127\.0\.0\.1:\d+\/my-order\/\S+ at .* \(never finalized\)$/);

  // The CA connects where nobody answers: the dry run fails with the same diagnosis as an
  // issuance (Pebble sends no validationRecord; the address and port come from its detail).
  const elsewhere = String(await freePort());
  const w = await check([...args.map((a) => (a === String(pebble.httpPort) ? elsewhere : a)), '--dry-run', '--accept-tos']);
  assert.equal(w.code, 1);
  const failed = parseReport(w).names[0].checks.find((c) => c.id === 'dry-run')!;
  assert.equal(failed.status, 'fail');
  assert.match(failed.summary, new RegExp(`^The CA reached 127\\.0\\.0\\.1 on port ${pebble.httpPort} for "www\\.example\\.com", which refused the connection \\(CA said: .*connection refused\\)\\.$`));
  assert.match(failed.fix ?? '', /Make sure port \d+ is open and forwarded to this machine/);
});
