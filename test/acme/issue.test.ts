import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPebble, type Pebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';
import { requireTool } from '../helpers/tools';
import { challtestsrvDnsProvider } from '../helpers/challtestsrv-dns';
import { AcmeIssuer, type AcmeIssuerOptions } from '../../main/engine/acme/issuer';
import { startChallengeListeners, type ChallengeListeners } from '../../main/engine/acme/challenge-listeners';
import { AcmeProblemError } from '../../main/engine/acme/problems';
import type { IssuedCertificate } from '../../main/engine/certs/types';
import { HomeportError } from '../../main/engine/errors';

// Real issuance from a real Pebble: every challenge type, several names, wildcards, key
// types, account reuse, and the typed error of a validation that cannot succeed.
let pebble: Pebble;
let listeners: ChallengeListeners;
let issuer: AcmeIssuer;
let dataDir: string;
let root: X509Certificate;

function options(extra: Partial<AcmeIssuerOptions> = {}): AcmeIssuerOptions {
  return {
    dataDir,
    cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }],
    email: 'admin@example.test',
    acceptTos: true,
    dnsProvider: challtestsrvDnsProvider(pebble),
    resolver: `127.0.0.1:${pebble.dnsPort}`,
    ...extra,
  };
}

/** The leaf chains to Pebble's root through the returned intermediates and names every host. */
function assertValid(cert: IssuedCertificate, names: string[]): X509Certificate {
  const leaf = new X509Certificate(cert.certPem);
  const chain = (cert.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
  assert.ok(chain.length >= 1, 'chain has an intermediate');
  assert.ok(leaf.verify(chain[0].publicKey), 'leaf signed by the first intermediate');
  assert.ok(chain[chain.length - 1].verify(root.publicKey), 'chain ends at Pebble\'s root');
  for (const n of names) assert.ok(leaf.checkHost(n.replace(/^\*\./, 'anything.')), `certificate covers ${n}`);
  assert.ok(leaf.checkPrivateKey(createPrivateKey(cert.keyPem)), 'key matches the certificate');
  return leaf;
}

before(async () => {
  pebble = await startPebble();
  // Made by hand: tmpDir() inside before() would be removed when the hook ends.
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'homeport-acme-'));
  root = new X509Certificate(await pebble.issuingRootPem());
  issuer = new AcmeIssuer(options());
  listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, httpsPort: pebble.tlsPort, host: '127.0.0.1' });
});

after(async () => {
  issuer?.close();
  await listeners?.close();
  await pebble?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('AcmeIssuer against Pebble', () => {
  test('http-01: an ECDSA P-256 certificate with its chain, and the account stored 0600', async () => {
    const steps: string[] = [];
    const cert = await issuer.issue({ names: ['http.example.test'], keyType: 'ec256', challenge: 'http-01', onProgress: (s) => steps.push(s) });
    const leaf = assertValid(cert, ['http.example.test']);
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(cert.ca, pebble.directoryUrl);
    assert.ok(steps.some((s) => /http-01/.test(s)), `progress mentions the challenge: ${steps.join(' | ')}`);
    const accounts = path.join(dataDir, 'accounts');
    const [caDir] = readdirSync(accounts);
    assert.equal(statSync(path.join(accounts, caDir, 'key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(accounts, caDir)).mode & 0o777, 0o700);
    const account = JSON.parse(readFileSync(path.join(accounts, caDir, 'account.json'), 'utf8'));
    assert.match(account.url, /^https:\/\/127\.0\.0\.1:\d+\//);
  });

  test('openssl verifies the chain against Pebble\'s root', async () => {
    requireTool('openssl');
    const cert = await issuer.issue({ names: ['openssl.example.test'], keyType: 'ec256' });
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'root.pem'), await pebble.issuingRootPem());
    writeFileSync(path.join(dir, 'chain.pem'), cert.chainPem);
    writeFileSync(path.join(dir, 'cert.pem'), cert.certPem);
    const out = execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'root.pem'), '-untrusted', path.join(dir, 'chain.pem'), path.join(dir, 'cert.pem')], { encoding: 'utf8' });
    assert.match(out, /cert\.pem: OK/);
  });

  test('tls-alpn-01 on the acme-tls/1 listener', async () => {
    const cert = await issuer.issue({ names: ['alpn.example.test'], keyType: 'ec256', challenge: 'tls-alpn-01' });
    assertValid(cert, ['alpn.example.test']);
    assert.equal(issuer.challenges.hasTlsAlpn01(), false, 'the answer is removed afterwards');
  });

  test('dns-01 through a DNS provider, waiting for the TXT at the resolver', async () => {
    const cert = await issuer.issue({ names: ['dns.example.test'], keyType: 'ec256', challenge: 'dns-01' });
    assertValid(cert, ['dns.example.test']);
  });

  test('several names and an IDN (converted to punycode) in one certificate', async () => {
    const cert = await issuer.issue({ names: ['multi.example.test', 'www.multi.example.test', 'bücher.example.test'], keyType: 'ec256' });
    const leaf = assertValid(cert, ['multi.example.test', 'www.multi.example.test', 'xn--bcher-kva.example.test']);
    assert.match(leaf.subjectAltName ?? '', /DNS:xn--bcher-kva\.example\.test/);
  });

  test('a wildcard and its base name through dns-01', async () => {
    const cert = await issuer.issue({ names: ['*.wild.example.test', 'wild.example.test'], keyType: 'ec256' });
    const leaf = assertValid(cert, ['*.wild.example.test', 'wild.example.test']);
    assert.match(leaf.subjectAltName ?? '', /DNS:\*\.wild\.example\.test/);
  });

  test('P-384 and RSA keys on request', async () => {
    const ec = await issuer.issue({ names: ['p384.example.test'], keyType: 'ec384' });
    assert.equal(assertValid(ec, ['p384.example.test']).publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    const rsa = await issuer.issue({ names: ['rsa.example.test'], keyType: 'rsa2048' });
    const key = assertValid(rsa, ['rsa.example.test']).publicKey;
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  });

  test('a second issuer reuses the stored account: no new account (it would need the terms accepted again)', async () => {
    const caDir = path.join(dataDir, 'accounts', readdirSync(path.join(dataDir, 'accounts'))[0]);
    const keyBefore = readFileSync(path.join(caDir, 'key.pem'), 'utf8');
    const accountBefore = readFileSync(path.join(caDir, 'account.json'), 'utf8');
    const second = new AcmeIssuer(options({ acceptTos: false, challenges: issuer.challenges }));
    try {
      assertValid(await second.issue({ names: ['reuse.example.test'], keyType: 'ec256', challenge: 'http-01' }), ['reuse.example.test']);
    } finally {
      second.close();
    }
    assert.equal(readFileSync(path.join(caDir, 'key.pem'), 'utf8'), keyBefore);
    assert.equal(readFileSync(path.join(caDir, 'account.json'), 'utf8'), accountBefore);
  });

  test('an account the CA forgot is registered again with the same key', async () => {
    const caDir = path.join(dataDir, 'accounts', readdirSync(path.join(dataDir, 'accounts'))[0]);
    const stored = JSON.parse(readFileSync(path.join(caDir, 'account.json'), 'utf8'));
    writeFileSync(path.join(caDir, 'account.json'), JSON.stringify({ ...stored, url: stored.url.replace(/[^/]+$/, 'forgotten') }));
    const again = new AcmeIssuer(options({ challenges: issuer.challenges }));
    try {
      assertValid(await again.issue({ names: ['again.example.test'], keyType: 'ec256' }), ['again.example.test']);
    } finally {
      again.close();
    }
    assert.equal(JSON.parse(readFileSync(path.join(caDir, 'account.json'), 'utf8')).url, stored.url, 'the CA found the same account for the same key');
  });

  test('account.json lost: the key\'s account is found again (onlyReturnExisting), without accepting the terms anew', async () => {
    const caDir = path.join(dataDir, 'accounts', readdirSync(path.join(dataDir, 'accounts'))[0]);
    const stored = JSON.parse(readFileSync(path.join(caDir, 'account.json'), 'utf8'));
    rmSync(path.join(caDir, 'account.json'));
    const found = new AcmeIssuer(options({ acceptTos: false, challenges: issuer.challenges }));
    try {
      assertValid(await found.issue({ names: ['found.example.test'], keyType: 'ec256' }), ['found.example.test']);
    } finally {
      found.close();
    }
    assert.equal(JSON.parse(readFileSync(path.join(caDir, 'account.json'), 'utf8')).url, stored.url);
  });

  test('a new account needs the terms accepted: a clear error with the terms URL', async () => {
    const fresh = new AcmeIssuer(options({ dataDir: tmpDir(), acceptTos: false }));
    try {
      await assert.rejects(fresh.issue({ names: ['tos.example.test'], keyType: 'ec256' }), (e: HomeportError) => {
        assert.equal(e.code, 'acme.tos-not-accepted');
        assert.match(e.fix ?? '', /--accept-tos/);
        return true;
      });
    } finally {
      fresh.close();
    }
  });

  test('failed validation with nothing listening: typed error with the address the CA used and a diagnosis', async () => {
    // A store nobody serves, and the http-01 port of Pebble is closed for this issuer.
    await listeners.close();
    try {
      await assert.rejects(issuer.issue({ names: ['down.example.test'], keyType: 'ec256', challenge: 'http-01' }), (e: unknown) => {
        assert.ok(e instanceof AcmeProblemError, `typed error, got ${String(e)}`);
        assert.equal(e.code, 'acme.connection');
        assert.equal(e.identifier, 'down.example.test');
        assert.equal(e.addressUsed, '127.0.0.1');
        assert.equal(e.challenge, 'http-01');
        assert.match(e.message, new RegExp(`127\\.0\\.0\\.1 on port ${pebble.httpPort} .*refused the connection`));
        assert.match(e.fix ?? '', new RegExp(`port ${pebble.httpPort} is open and forwarded`));
        return true;
      });
    } finally {
      listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, httpsPort: pebble.tlsPort, host: '127.0.0.1' });
    }
  });

  test('an AAAA record where nothing answers: the CA\'s IPv6 failure explained as the AAAA record, with its fix', async () => {
    // The name resolves to ::1 only, where no listener runs (they are on 127.0.0.1), as for an
    // AAAA record left pointing at an old server or a router that does not forward IPv6.
    await pebble.challtestsrv('set-default-ipv4', { ip: '' });
    await pebble.challtestsrv('add-aaaa', { host: 'v6.example.test', addresses: ['::1'] });
    try {
      await assert.rejects(issuer.issue({ names: ['v6.example.test'], keyType: 'ec256', challenge: 'http-01' }), (e: unknown) => {
        assert.ok(e instanceof AcmeProblemError, `typed error, got ${String(e)}`);
        assert.equal(e.code, 'acme.connection');
        assert.equal(e.addressUsed, '::1');
        assert.match(e.message, new RegExp(`reached ::1 over IPv6 for "v6\\.example\\.test", which refused the connection on port ${pebble.httpPort}`));
        assert.match(e.message, /v6\.example\.test has an AAAA record ::1 that is not this host/);
        assert.match(e.fix ?? '', /^Remove the AAAA record/);
        return true;
      });
    } finally {
      await pebble.challtestsrv('set-default-ipv4', { ip: '127.0.0.1' });
      await pebble.challtestsrv('clear-aaaa', { host: 'v6.example.test' });
    }
  });

  test('unforced: when http-01 cannot work, a new order is tried with tls-alpn-01', async () => {
    await listeners.close();
    listeners = await startChallengeListeners({ store: issuer.challenges, httpsPort: pebble.tlsPort, host: '127.0.0.1' });
    const steps: string[] = [];
    try {
      const cert = await issuer.issue({ names: ['fallback.example.test'], keyType: 'ec256', onProgress: (s) => steps.push(s) });
      assertValid(cert, ['fallback.example.test']);
      assert.ok(steps.some((s) => /^http-01 failed .*refused.*; trying tls-alpn-01$/.test(s)), steps.join(' | '));
    } finally {
      await listeners.close();
      listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, httpsPort: pebble.tlsPort, host: '127.0.0.1' });
    }
  });

  test('a wildcard without dns-01 is refused before any request', async () => {
    await assert.rejects(issuer.issue({ names: ['*.nodns.example.test'], keyType: 'ec256', challenge: 'http-01' }), { code: 'acme.wildcard-needs-dns01' });
    const noDns = new AcmeIssuer(options({ dnsProvider: undefined }));
    await assert.rejects(noDns.issue({ names: ['*.nodns.example.test'], keyType: 'ec256' }), { code: 'acme.dns01-needs-provider' });
  });

  test('acmeClient() hands out the ready client of a configured CA', async () => {
    const client = await issuer.acmeClient();
    assert.match(client.accountUrl ?? '', /^https:\/\/127\.0\.0\.1:/);
    assert.equal(await issuer.acmeClient(pebble.directoryUrl), client, 'one session per CA');
    assert.throws(() => issuer.acmeClient('letsencrypt'), { code: 'config.unknown-ca' });
  });

  test('Pebble has no renewalInfo: no ARI window (the lifetime rule applies)', async () => {
    const cert = await issuer.issue({ names: ['ari.example.test'], keyType: 'ec256' });
    assert.equal(await issuer.renewalWindow(cert.certPem, cert.ca), undefined);
    assert.ok(issuer.lastServerDate, 'the CA\'s Date header was recorded');
    const d = issuer.lastServerDate;
    assert.ok(Math.abs(d.serverTime - d.localTime) < 5_000);
    assert.equal(Date.parse(d.date), d.serverTime);
    assert.ok(d.sentAt <= d.localTime);
  });
});
