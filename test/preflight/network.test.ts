import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { httpProbe } from '../../main/engine/preflight/addresses';
import { checkHairpin } from '../../main/engine/preflight/ports';
import { WireResolver } from '../../main/engine/preflight/resolver';
import { startBind } from '../helpers/bind';
import { freePort } from '../helpers/ports';

// The network seams of the checks, against real sockets on loopback: the public-address probe
// services, the hairpin self-test, and DNS answers too big for UDP.

async function serve(host: string, body: (req: http.IncomingMessage) => [number, string]): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = http.createServer((req, res) => {
    const [status, text] = body(req);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
  });
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  const { port } = srv.address() as net.AddressInfo;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`, close: () => new Promise((r) => srv.close(() => r())) };
}

test('the address probe asks each family in order, skipping services that fail or answer nonsense', async () => {
  const down = `http://127.0.0.1:${await freePort()}/`;
  const nonsense = await serve('127.0.0.1', () => [200, '<html>hello</html>']);
  const v4 = await serve('127.0.0.1', () => [200, '198.51.100.23\n']);
  const v6 = await serve('::1', (req) => [200, req.socket.remoteFamily === 'IPv6' ? '2001:db8::23' : 'wrong family']);
  try {
    const found = await httpProbe({ ipv4: [down, nonsense.url, v4.url], ipv6: [v6.url], timeoutMs: 2000 }).discover();
    assert.deepEqual(found.ipv4, ['198.51.100.23']);
    assert.deepEqual(found.ipv6, ['2001:db8::23']);
    assert.equal(found.overridden, false);
    assert.match(found.evidence[0], /ECONNREFUSED/);
    assert.equal(found.evidence[1], `${nonsense.url} answered something that is not an IPv4 address`);
    assert.equal(found.evidence[2], `${v4.url} saw this host as 198.51.100.23`);
    const none = await httpProbe({ ipv4: [down], ipv6: [], timeoutMs: 2000 }).discover();
    assert.deepEqual([none.ipv4, none.ipv6], [[], []]);
  } finally {
    await Promise.all([nonsense.close(), v4.close(), v6.close()]);
  }
});

test('hairpin: reached, another server, and inconclusive', async () => {
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  const base = { httpPort, httpsPort, addresses: ['93.184.216.34'], ports: { http: 'free' as const, https: 'free' as const }, timeoutMs: 1000 };

  // The "router" forwards public :80/:443 to Homeport's ports on this host.
  const ok = await checkHairpin({ ...base, target: (_a, p) => ({ host: '127.0.0.1', port: p === 80 ? httpPort : httpsPort }) });
  assert.equal(ok.result.status, 'pass');
  assert.equal(ok.result.summary, 'This host answers on its public address (93.184.216.34:80, 93.184.216.34:443).');
  assert.deepEqual(ok.facts.reached, [80, 443]);

  // Forwarded to another machine (or the router's own page): another server answers.
  const other = net.createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherPort = (other.address() as net.AddressInfo).port;
  try {
    const w = await checkHairpin({ ...base, target: (_a, p) => ({ host: '127.0.0.1', port: p === 80 ? otherPort : httpsPort }) });
    assert.equal(w.result.status, 'warn');
    assert.match(w.result.summary, /^Connecting to 93\.184\.216\.34:80 reached another server, not Homeport\./);
    assert.deepEqual(w.facts.reached, [443]);
  } finally {
    other.close();
  }

  // Nothing comes back (no hairpin NAT): inconclusive, never "closed".
  const dead = await freePort();
  const s = await checkHairpin({ ...base, target: () => ({ host: '127.0.0.1', port: dead }) });
  assert.equal(s.result.status, 'skip');
  assert.match(s.result.summary, /^Inconclusive: 93\.184\.216\.34:80, 93\.184\.216\.34:443 did not lead back to this host/);
  assert.match(s.result.fix ?? '', /--dry-run/);

  // A port Homeport cannot open is not probed.
  const busy = await checkHairpin({ ...base, ports: { http: 'in-use', https: 'in-use' }, target: () => ({ host: '127.0.0.1', port: dead }) });
  assert.equal(busy.result.status, 'skip');
  assert.match(busy.result.evidence.join('\n'), /93\.184\.216\.34:80 not tested \(port \d+ is not free for a test listener\)/);
});

test('the resolver retries over TCP when the UDP answer is truncated', async () => {
  const records = Array.from({ length: 40 }, (_, i) => `big IN TXT "${'x'.repeat(60)}-${i}"`);
  const bind = await startBind({ zones: [{ name: 'example.com', records }] });
  try {
    const r = await new WireResolver({ servers: [{ host: bind.host, port: bind.port }] }).query('big.example.com', 'TXT');
    assert.equal(r.rcode, 'NOERROR');
    assert.equal(r.answers.length, 40, 'all records, which need more than 1232 bytes');
    assert.ok(r.aa);
  } finally {
    await bind.stop();
  }
});
