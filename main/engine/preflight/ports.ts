import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { isPortDenied, portDeniedFix } from '../privileged-port';
import { classifyAddress, isDocumentationAddress } from './addresses';
import { check, CheckResult } from './types';

/**
 * Check 5, first two parts: can Homeport listen where the CA will connect (http-01 on the
 * HTTP port, tls-alpn-01 on the HTTPS port), and does this host's public address lead back
 * here ("hairpin")? The hairpin test can only prove reachability, never its absence: many
 * routers do not loop their own public address back inside, so a failure is "inconclusive".
 */
export type PortState = 'free' | 'in-use' | 'denied' | 'error';

export interface PortFacts {
  http: PortState;
  https: PortState;
}

export interface PortOptions {
  httpPort: number;
  httpsPort: number;
}

function tryBind(port: number, host: string): Promise<PortState | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) =>
      resolve(e.code === 'EADDRINUSE' ? 'in-use' : isPortDenied(e) ? 'denied' : e),
    );
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve('free')));
  });
}

async function portState(port: number): Promise<PortState> {
  // '::' also takes IPv4 where the OS allows dual-stack; without IPv6, fall back to IPv4 only.
  const dual = await tryBind(port, '::');
  if (typeof dual === 'string') return dual;
  const v4 = await tryBind(port, '0.0.0.0');
  return typeof v4 === 'string' ? v4 : 'error';
}

const privilegedFix = () => portDeniedFix('let the router forward 80/443 to ports above 1023 and set those (Settings, or --http-port and --https-port)');

export async function checkPorts(opts: PortOptions): Promise<{ result: CheckResult; facts: PortFacts }> {
  const [http, https] = await Promise.all([portState(opts.httpPort), portState(opts.httpsPort)]);
  const facts = { http, https };
  const words = (p: number, s: PortState, use: string) =>
    s === 'free'
      ? `port ${p} (${use}) is free`
      : s === 'in-use'
        ? `port ${p} (${use}) is already in use by another program`
        : s === 'denied'
          ? `port ${p} (${use}) needs privileges this process lacks`
          : `port ${p} (${use}) cannot be opened`;
  const evidence = [words(opts.httpPort, http, 'http-01'), words(opts.httpsPort, https, 'tls-alpn-01')];
  if (http === 'free' && https === 'free') {
    return { result: check('ports', 'pass', `Homeport can listen on ports ${opts.httpPort} and ${opts.httpsPort}.`, evidence), facts };
  }
  const fixes: string[] = [];
  if (http === 'in-use' || https === 'in-use') {
    fixes.push(
      'Stop the program that holds the port, or let Homeport serve it (homeport serve takes over ports 80/443 and proxies your services), or use a challenge that does not need it.',
    );
  }
  if (http === 'denied' || https === 'denied') fixes.push(privilegedFix());
  const sentence = evidence.filter((e) => !e.endsWith('is free')).join('; ');
  return {
    result: check(
      'ports',
      'warn',
      `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}: the challenge that needs it cannot be answered from here.`,
      evidence,
      fixes.join(' ') || 'Check what keeps the port from opening.',
    ),
    facts,
  };
}

export interface HairpinOptions extends PortOptions {
  /** This host's public addresses (the targets). */
  addresses: string[];
  ports: PortFacts;
  /**
   * Where a connection to a public address:port really goes. Identity in the app (the
   * router's forwarding is the thing under test); tests point it at loopback.
   */
  target?: (address: string, port: number) => { host: string; port: number };
  timeoutMs?: number;
}

export interface HairpinFacts {
  /** Ports (80/443) proven to reach this host from its public address. */
  reached: number[];
}

type Probe = { address: string; port: number; outcome: 'reached' | 'other' | 'failed'; detail: string };

/** A token written by a throw-away listener; the connection through the public address must read it back. */
async function probe(listenPort: number, address: string, publicPort: number, opts: HairpinOptions): Promise<Probe> {
  const token = `homeport-hairpin-${randomBytes(8).toString('hex')}\n`;
  const srv = net.createServer((s) => s.end(token));
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port: listenPort, host: '::' }, () => resolve());
  }).catch(
    () => new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ port: listenPort, host: '0.0.0.0' }, () => resolve());
    }),
  );
  const to = opts.target ? opts.target(address, publicPort) : { host: address, port: publicPort };
  const timeoutMs = opts.timeoutMs ?? 3000;
  try {
    return await new Promise<Probe>((resolve) => {
      let got = '';
      const sock = net.connect(to.port, to.host);
      const finish = (outcome: Probe['outcome'], detail: string) => {
        sock.destroy();
        resolve({ address, port: publicPort, outcome, detail });
      };
      sock.setTimeout(timeoutMs, () =>
        finish(got ? 'other' : 'failed', got ? 'another server answered' : `no answer within ${timeoutMs} ms`),
      );
      sock.on('data', (d) => {
        got += d.toString('latin1');
        if (got === token) finish('reached', 'reached this host');
        else if (!token.startsWith(got)) finish('other', 'another server answered');
      });
      sock.on('end', () => finish(got === token ? 'reached' : got ? 'other' : 'failed', got ? 'another server answered' : 'the connection was closed without an answer'));
      sock.on('error', (e: NodeJS.ErrnoException) => finish('failed', e.code === 'ECONNREFUSED' ? 'the connection was refused' : e.code ?? e.message));
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

export async function checkHairpin(opts: HairpinOptions): Promise<{ result: CheckResult; facts: HairpinFacts }> {
  const targets = opts.addresses.filter((a) => classifyAddress(a) === 'public' && !isDocumentationAddress(a));
  const skipped = opts.addresses.filter((a) => !targets.includes(a));
  const evidence = skipped.map((a) => `${a} is ${isDocumentationAddress(a) ? 'a documentation address' : `a ${classifyAddress(a)} address`}, so it was not probed`);
  const pairs: [number, number, PortState][] = [
    [80, opts.httpPort, opts.ports.http],
    [443, opts.httpsPort, opts.ports.https],
  ];
  if (targets.length === 0) {
    return {
      result: check('hairpin', 'skip', `Not tested: ${evidence.length ? evidence.join('; ') : 'this host has no known public address'}.`, evidence),
      facts: { reached: [] },
    };
  }
  const probes: Probe[] = [];
  for (const address of targets) {
    for (const [publicPort, listenPort, state] of pairs) {
      if (state !== 'free') {
        evidence.push(`${address}:${publicPort} not tested (port ${listenPort} is not free for a test listener)`);
        continue;
      }
      const p = await probe(listenPort, address, publicPort, opts);
      probes.push(p);
      evidence.push(`${address}:${publicPort}: ${p.detail}`);
    }
  }
  const reached = [...new Set(probes.filter((p) => p.outcome === 'reached').map((p) => p.port))];
  const other = probes.filter((p) => p.outcome === 'other');
  if (other.length) {
    return {
      result: check(
        'hairpin',
        'warn',
        `Connecting to ${other.map((p) => `${p.address}:${p.port}`).join(', ')} reached another server, not Homeport. That is either your router's own page (then this test is inconclusive) or the port is forwarded to another machine.`,
        evidence,
        'Check the port forwarding in your router: 80 and 443 must go to this machine. The dry run (--dry-run) asks the CA itself.',
      ),
      facts: { reached },
    };
  }
  const failed = probes.filter((p) => p.outcome === 'failed');
  if (failed.length === 0 && probes.length > 0) {
    return {
      result: check('hairpin', 'pass', `This host answers on its public address (${probes.map((p) => `${p.address}:${p.port}`).join(', ')}).`, evidence),
      facts: { reached },
    };
  }
  return {
    result: check(
      'hairpin',
      'skip',
      `Inconclusive: ${failed.length ? `${failed.map((p) => `${p.address}:${p.port}`).join(', ')} did not lead back to this host from inside your network` : 'nothing could be tested'}. Many routers do not loop connections to their own public address back inside ("hairpin NAT"), so this says nothing about what the CA will see.`,
      evidence,
      'Run the check with --dry-run: the staging CA then connects from the internet, which is the definitive test.',
    ),
    facts: { reached },
  };
}
