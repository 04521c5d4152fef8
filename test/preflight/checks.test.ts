import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { runPreflight, PreflightOptions } from '../../main/engine/preflight/report';
import { fixedAddresses } from '../../main/engine/preflight/addresses';
import type { CheckId, CheckResult, PreflightReport } from '../../main/engine/preflight/types';
import { CHECK_IDS } from '../../main/engine/preflight/types';
import { startBind } from '../helpers/bind';
import { WireResolver } from '../../main/engine/preflight/resolver';
import { startWorld, World, HOST_V4, HOST_V6, OTHER_ACCOUNT } from './zones';
import { freePort } from '../helpers/ports';

// Checks 1–8 against real BIND servers: each zone entry is one situation a self-hoster meets.
let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world?.stop());

const LE = { id: 'letsencrypt', displayName: "Let's Encrypt", identities: ['letsencrypt.org'], issuesForIp: true };

async function run(names: string[], over: Partial<PreflightOptions> = {}): Promise<PreflightReport> {
  return runPreflight({
    names,
    ca: LE,
    dns: world.dns,
    addresses: fixedAddresses([HOST_V4, HOST_V6]),
    httpPort: await freePort(),
    httpsPort: await freePort(),
    ...over,
  });
}

function get(r: PreflightReport, id: CheckId, name = r.names[0].name): CheckResult {
  const c = r.names.find((n) => n.name === name)?.checks.find((x) => x.id === id);
  assert.ok(c, `no ${id} check for ${name}`);
  return c;
}

function statuses(r: PreflightReport, name = r.names[0].name): Record<string, string> {
  return Object.fromEntries(r.names.find((n) => n.name === name)!.checks.map((c) => [c.id, c.status]));
}

test('a correct name passes every check and gets http-01', async () => {
  const r = await run(['www.example.com']);
  assert.deepEqual(r.names[0].checks.map((c) => c.id), CHECK_IDS);
  assert.deepEqual(statuses(r), {
    name: 'pass', 'public-address': 'pass', dns: 'pass', caa: 'pass', ports: 'pass',
    hairpin: 'skip', 'dry-run': 'skip', cdn: 'pass', 'rate-limits': 'skip', challenge: 'pass',
  });
  assert.equal(r.verdict, 'ready');
  assert.equal(r.recommendedChallenge, 'http-01');
  assert.equal(get(r, 'dns').summary, `www.example.com resolves to this host (A ${HOST_V4}, AAAA ${HOST_V6}).`);
  assert.ok(get(r, 'dns').evidence.includes(`A www.example.com: ${HOST_V4} (authoritative)`));
  assert.deepEqual(get(r, 'caa').evidence, ['no CAA at www.example.com', 'CAA example.com: 0 issue "letsencrypt.org"']);
  assert.match(get(r, 'caa').summary, /allow Let's Encrypt \(letsencrypt\.org\) to issue for www\.example\.com\.$/);
  assert.match(get(r, 'hairpin').evidence.join('\n'), /203\.0\.113\.10 is a documentation address, so it was not probed/);
  assert.equal(get(r, 'challenge').summary, 'Use http-01 for www.example.com.');
  assert.equal(get(r, 'challenge').fix, null);
});

test('an AAAA record that is not this host fails in plain words, and dns-01 is what still works', async () => {
  const r = await run(['v6bad.example.com']);
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'fail');
  assert.equal(dns.summary, "v6bad.example.com has an AAAA record 2001:db8::99 that is not this host: Let's Encrypt prefers IPv6 and will fail.");
  assert.equal(dns.fix, "Remove the AAAA record or point it at this host's IPv6 address (2001:db8::10).");
  assert.ok(dns.evidence.includes('AAAA v6bad.example.com: 2001:db8::99 (authoritative)'));
  assert.equal(r.verdict, 'blocked');
  assert.equal(r.recommendedChallenge, 'dns-01');
  assert.equal(get(r, 'challenge').status, 'warn');
  assert.match(get(r, 'challenge').summary, /http-01 is out: v6bad\.example\.com does not point at this host/);
  assert.match(get(r, 'challenge').fix ?? '', /Configure a DNS provider/);
});

test('a CAA record allowing only another CA blocks, naming the record to add', async () => {
  const r = await run(['otherca.example.com']);
  const caa = get(r, 'caa');
  assert.equal(caa.status, 'fail');
  assert.equal(caa.summary, "The CAA records at otherca.example.com allow only pki.goog to issue for otherca.example.com, not Let's Encrypt (letsencrypt.org).");
  assert.equal(caa.fix, 'Add a CAA record at otherca.example.com: 0 issue "letsencrypt.org", or choose a CA your CAA records allow.');
  assert.deepEqual(caa.evidence, ['CAA otherca.example.com: 0 issue "pki.goog"']);
  assert.equal(get(r, 'challenge').status, 'fail');
  assert.equal(r.recommendedChallenge, null);
  assert.equal(r.verdict, 'blocked');
  // The same records allow Google Trust Services.
  const g = await run(['otherca.example.com'], { ca: { id: 'google', displayName: 'Google Trust Services', identities: ['pki.goog'], issuesForIp: false } });
  assert.equal(get(g, 'caa').status, 'pass');
});

test('CAA accounturi and validationmethods: the wrong account fails, the right one is held to dns-01', async () => {
  const wrong = await run(['acct.example.com'], { ca: { ...LE, accountUrl: 'https://acme-v02.api.letsencrypt.org/acme/acct/999' } });
  assert.equal(get(wrong, 'caa').status, 'fail');
  assert.equal(get(wrong, 'caa').summary, `The CAA records at acct.example.com allow Let's Encrypt only for the account ${OTHER_ACCOUNT}, and this host's account is https://acme-v02.api.letsencrypt.org/acme/acct/999.`);
  assert.match(get(wrong, 'caa').fix ?? '', /0 issue "letsencrypt\.org; accounturi=https:\/\/acme-v02\.api\.letsencrypt\.org\/acme\/acct\/999"/);

  const right = await run(['acct.example.com'], { ca: { ...LE, accountUrl: OTHER_ACCOUNT }, dnsProvider: true });
  assert.equal(get(right, 'caa').status, 'pass');
  assert.match(get(right, 'caa').summary, /only with dns-01 \(validationmethods\)/);
  assert.equal(right.recommendedChallenge, 'dns-01');
  assert.equal(get(right, 'challenge').status, 'pass');
  assert.ok(get(right, 'challenge').evidence.includes('http-01: no (the CAA records do not allow it)'));

  const unknown = await run(['acct.example.com']);
  assert.equal(get(unknown, 'caa').status, 'warn');
  assert.match(get(unknown, 'caa').summary, /only for the account https:\/\/acme-v02\.api\.letsencrypt\.org\/acme\/acct\/12345 \(accounturi\)/);
});

test('a CNAME chain is followed for addresses and into the CAA record at its target', async () => {
  const r = await run(['alias.example.com']);
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'pass');
  assert.equal(dns.summary, `alias.example.com resolves to this host via 2 CNAMEs (A ${HOST_V4}, no AAAA record).`);
  assert.ok(dns.evidence.includes('CNAME alias.example.com → hop.example.net (authoritative)'));
  assert.ok(dns.evidence.includes('CNAME hop.example.net → target.example.net (authoritative)'));
  const caa = get(r, 'caa');
  assert.equal(caa.status, 'fail');
  assert.deepEqual(caa.evidence, [
    'CNAME alias.example.com → hop.example.net',
    'CNAME hop.example.net → target.example.net',
    'CAA target.example.net: 0 issue "sectigo.com"',
  ]);
  assert.match(caa.summary, /^The CAA records at alias\.example\.com \(via CNAME to target\.example\.net\) allow only sectigo\.com/);
});

test('a wildcard needs dns-01: its zone is found and the base CAA issue property applies', async () => {
  const r = await run(['*.example.com']);
  assert.equal(get(r, 'name').status, 'pass');
  assert.match(get(r, 'name').summary, /CAs validate wildcards only with the dns-01 challenge/);
  assert.equal(get(r, 'dns').summary, 'The dns-01 record for *.example.com goes to _acme-challenge.example.com, in the zone example.com, which answers.');
  assert.equal(get(r, 'caa').status, 'pass');
  assert.equal(get(r, 'cdn').status, 'skip');
  assert.equal(get(r, 'challenge').status, 'warn');
  assert.equal(r.recommendedChallenge, 'dns-01');
  assert.equal(r.verdict, 'ready');
  const withProvider = await run(['*.example.com', 'www.example.com'], { dnsProvider: true });
  assert.equal(withProvider.recommendedChallenge, 'dns-01', 'the one challenge that works for both names');
  assert.equal(get(withProvider, 'challenge', '*.example.com').status, 'pass');
});

test('NXDOMAIN: the name does not exist', async () => {
  const r = await run(['missing.example.com']);
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'fail');
  assert.equal(dns.summary, 'The name missing.example.com does not exist in DNS (NXDOMAIN).');
  assert.equal(dns.fix, 'Create an A (and if you use IPv6, AAAA) record for missing.example.com pointing to this host, then check again.');
  assert.equal(r.verdict, 'blocked');
});

test('SERVFAIL from a delegation to a dead server fails DNS and CAA, with the walk as evidence', async () => {
  const r = await run(['host.dead.example.com']);
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'fail');
  assert.match(dns.summary, /^The DNS lookup of host\.dead\.example\.com fails with SERVFAIL at the resolver 127\.0\.0\.1:\d+; .*broken DNSSEC/);
  assert.match(dns.summary, /The authoritative servers could not be asked either: none of the name servers of dead\.example\.com answered/);
  assert.ok(dns.evidence.some((e) => /refers dead\.example\.com to ns\.dead\.example\.com/.test(e)), dns.evidence.join('\n'));
  assert.ok(dns.evidence.some((e) => /ns\.dead\.example\.com \(127\.0\.0\.4:\d+\)/.test(e)), dns.evidence.join('\n'));
  assert.match(dns.fix ?? '', /DNSSEC/);
  assert.equal(get(r, 'caa').status, 'fail');
  assert.match(get(r, 'caa').summary, /answered SERVFAIL\. CAs refuse to issue when they cannot read CAA records\./);
});

test('a lame delegation: the named server refuses the zone, and the evidence says which', async () => {
  const r = await run(['host.lame.example.com']);
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'fail');
  assert.match(dns.summary, /SERVFAIL/);
  assert.ok(dns.evidence.includes(`ns.lame.example.com (127.0.0.1:${world.child.port}) answered REFUSED`), dns.evidence.join('\n'));
});

test('a delegated zone is found by walking the delegation', async () => {
  const r = await run(['www.deleg.example.com']);
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'pass', dns.summary);
  assert.ok(dns.evidence.includes(`authoritative servers of deleg.example.com: ns.deleg.example.com (127.0.0.1:${world.child.port})`), dns.evidence.join('\n'));
});

test('internal names and public suffixes cannot get public certificates, and the alternatives are named', async () => {
  const r = await run(['nas.local', 'nas', 'printer.home.arpa', 'co.uk']);
  for (const n of ['nas.local', 'nas', 'printer.home.arpa']) {
    const c = get(r, 'name', n);
    assert.equal(c.status, 'fail');
    assert.match(c.fix ?? '', /use a real domain .* with the dns-01 challenge.*or run a private CA/);
    assert.deepEqual(new Set(r.names.find((x) => x.name === n)!.checks.slice(1).map((x) => x.status)), new Set(['skip']));
  }
  assert.equal(get(r, 'name', 'nas.local').summary, 'nas.local ends in .local, a name that exists only inside private networks: no public CA can issue a certificate for it.');
  assert.equal(get(r, 'name', 'nas').summary, 'nas is a bare host name with no domain: no public CA can issue a certificate for it.');
  const ps = get(r, 'name', 'co.uk');
  assert.equal(ps.status, 'fail');
  assert.match(ps.summary, /^co\.uk is a public suffix/);
  assert.equal(r.verdict, 'blocked');
  assert.equal(r.recommendedChallenge, null);
});

test('IDN names are checked as punycode', async () => {
  const r = await run(['bücher.example.com']);
  assert.equal(r.names[0].name, 'xn--bcher-kva.example.com');
  assert.ok(get(r, 'name').evidence.includes('bücher.example.com is written xn--bcher-kva.example.com in DNS (IDN → punycode)'));
  assert.equal(get(r, 'dns').status, 'pass');
});

test('IP literals: only with a CA that issues for IPs, and never dns-01', async () => {
  const le = await run([HOST_V4]);
  assert.equal(get(le, 'name').status, 'pass');
  assert.equal(le.recommendedChallenge, 'http-01');
  const z = await run([HOST_V4], { ca: { id: 'zerossl', displayName: 'ZeroSSL', identities: ['sectigo.com'], issuesForIp: false } });
  assert.equal(get(z, 'name').summary, 'ZeroSSL does not issue certificates for IP addresses.');
  const priv = await run(['192.168.1.20']);
  assert.match(get(priv, 'name').summary, /^192\.168\.1\.20 is a private address/);
});

test('Cloudflare in front: cdn warns and the recommendation moves to dns-01', async () => {
  const r = await run(['cf.example.com'], { dnsProvider: true });
  const cdn = get(r, 'cdn');
  assert.equal(cdn.status, 'warn');
  assert.match(cdn.summary, /^cf\.example\.com points at Cloudflare \(104\.16\.1\.1\)/);
  assert.match(cdn.evidence[0], /^104\.16\.1\.1 is in Cloudflare ranges from https:\/\/www\.cloudflare\.com\/ips\//);
  assert.match(cdn.fix ?? '', /grey cloud/);
  assert.equal(r.recommendedChallenge, 'dns-01');
});

test('an A record with a private address is explained', async () => {
  const r = await run(['lan.example.com']);
  assert.equal(get(r, 'dns').status, 'fail');
  assert.equal(get(r, 'dns').summary, 'lan.example.com has an A record 192.168.1.10, a private address: the CA cannot reach it from the internet.');
});

test('a carrier-grade NAT address is recognised', async () => {
  const r = await run(['www.example.com'], { addresses: fixedAddresses(['100.64.12.34']) });
  const a = get(r, 'public-address');
  assert.equal(a.status, 'warn');
  assert.match(a.summary, /100\.64\.12\.34 is in the carrier-grade NAT range 100\.64\.0\.0\/10/);
  assert.match(a.fix ?? '', /dns-01/);
  assert.match(get(r, 'challenge').evidence.join('\n'), /http-01: no \(this host cannot be reached from the internet/);
});

test('a port in use moves the recommendation to tls-alpn-01', async () => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, resolve));
  const httpPort = (busy.address() as net.AddressInfo).port;
  try {
    const r = await run(['www.example.com'], { httpPort });
    assert.equal(get(r, 'ports').status, 'warn');
    assert.match(get(r, 'ports').summary, new RegExp(`^Port ${httpPort} \\(http-01\\) is already in use by another program`));
    assert.equal(r.recommendedChallenge, 'tls-alpn-01');
    assert.equal(get(r, 'challenge').summary, `Use tls-alpn-01 for www.example.com (http-01 is out: port ${httpPort} is in use).`);
  } finally {
    busy.close();
  }
});

test('pinned to one server (--resolver), a delegated name still resolves through it', async () => {
  const at = { host: world.parent.host, port: world.parent.port };
  const r = await run(['www.deleg.example.com'], { dns: { ...world.dns, roots: [at], serverFor: undefined, pinned: true } });
  const dns = get(r, 'dns');
  assert.equal(dns.status, 'pass', dns.summary);
  assert.ok(dns.evidence.some((e) => /authoritative view unavailable: .* with --resolver every question goes to that server/.test(e)), dns.evidence.join('\n'));
});

test('a resolver still serving the old address: propagation is a warning, the authoritative view decides', async () => {
  // A second server with a stale copy of the zone plays the caching resolver.
  const stale = await startBind({ zones: [{ name: 'example.com', records: ['www IN A 198.51.100.1'] }] });
  try {
    const r = await run(['www.example.com'], {
      dns: { ...world.dns, resolver: new WireResolver({ servers: [{ host: stale.host, port: stale.port }] }) },
    });
    const dns = get(r, 'dns');
    assert.equal(dns.status, 'warn');
    assert.match(dns.summary, /^The resolver and the authoritative servers disagree about A www\.example\.com \(resolver: 198\.51\.100\.1; authoritative: 203\.0\.113\.10\): a recent change is still propagating\./);
    assert.match(dns.fix ?? '', /Wait for the old record's TTL to pass/);
    // That server holds example.com only: it refuses the CAA question for the TLD.
    assert.equal(get(r, 'caa').status, 'warn');
    assert.deepEqual(get(r, 'caa').evidence, ['no CAA at www.example.com', 'no CAA at example.com', 'CAA com: REFUSED']);
    assert.equal(r.recommendedChallenge, 'http-01');
  } finally {
    await stale.stop();
  }
});
