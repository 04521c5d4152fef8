import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, waitForPort } from './ports';
import { requireTool } from './tools';

/**
 * A real Pebble ACME CA and pebble-challtestsrv DNS on loopback, started per test file.
 * Debian's pebble ships no TLS certificate, so a throw-away CA signs one for 127.0.0.1.
 * Homeport answers the challenges itself: challtestsrv's own challenge servers are off and
 * its DNS answers 127.0.0.1 for every A query, so Pebble validates against our listeners
 * on `httpPort` / `tlsPort`.
 */
export interface Pebble {
  directoryUrl: string;
  /** PEM of the throw-away CA that signed Pebble's HTTPS certificate: pass as --ca-root. */
  caRootFile: string;
  caRootPem: string;
  /** Port Pebble connects to for http-01 and tls-alpn-01. */
  httpPort: number;
  tlsPort: number;
  /** challtestsrv DNS (UDP+TCP) on 127.0.0.1; Pebble resolves names here. */
  dnsPort: number;
  /** challtestsrv management API base URL (http). */
  challtestsrvUrl: string;
  /** Pebble's current issuing root (it makes a new one at every start). */
  issuingRootPem(): Promise<string>;
  /** Pebble's intermediate (the certificate that signs leaves). */
  issuingIntermediatePem(): Promise<string>;
  /** POST to challtestsrv's management API, e.g. ('set-txt', {host, value}). */
  challtestsrv(endpoint: string, body: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  httpPort?: number;
  tlsPort?: number;
  /** Extra environment for pebble (e.g. PEBBLE_AUTHZREUSE). */
  env?: Record<string, string>;
  /** Require External Account Binding with these kid → base64url HMAC keys. */
  eabKeys?: Record<string, string>;
  /** Log Pebble's output to stderr (debugging). */
  verbose?: boolean;
  /**
   * host:port of the DNS server Pebble resolves names with (its -dnsserver), e.g. a BIND
   * from test/helpers/bind.ts for dns-01 through RFC 2136; challtestsrv's DNS by default.
   */
  dnsServer?: string;
}

export const PEBBLE_EAB_KEYS = {
  'kid-1': 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W',
};

export async function startPebble(opts: PebbleOptions = {}): Promise<Pebble> {
  requireTool('pebble', 'apt-get install -y pebble');
  requireTool('pebble-challtestsrv', 'apt-get install -y pebble');
  requireTool('openssl');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'homeport-pebble-'));
  const caKey = path.join(dir, 'ca.key');
  const caRootFile = path.join(dir, 'ca.pem');
  const key = path.join(dir, 'localhost.key');
  const csr = path.join(dir, 'localhost.csr');
  const cert = path.join(dir, 'localhost.pem');
  const ext = path.join(dir, 'ext.cnf');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey,
    '-out', caRootFile, '-days', '2', '-subj', '/CN=Homeport test CA for Pebble');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
    '-out', csr, '-subj', '/CN=localhost');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', csr, '-CA', caRootFile, '-CAkey', caKey, '-CAcreateserial', '-out', cert,
    '-days', '2', '-extfile', ext);

  const [acmePort, mgmtPort, dnsPort, ctsMgmtPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const httpPort = opts.httpPort ?? (await freePort());
  const tlsPort = opts.tlsPort ?? (await freePort());
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: cert,
      privateKey: key,
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: Boolean(opts.eabKeys),
      externalAccountMACKeys: opts.eabKeys ?? {},
    },
  };
  const configFile = path.join(dir, 'pebble.json');
  writeFileSync(configFile, JSON.stringify(config));

  const children: ChildProcess[] = [];
  const launch = (cmd: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', opts.verbose ? 'inherit' : 'ignore', opts.verbose ? 'inherit' : 'pipe'],
    });
    let errOut = '';
    child.stderr?.on('data', (d: Buffer) => (errOut = (errOut + d.toString()).slice(-4000)));
    child.on('exit', (code) => {
      if (code && code !== 0 && !stopping) process.stderr.write(`${cmd} exited with ${code}: ${errOut}\n`);
    });
    children.push(child);
    return child;
  };
  let stopping = false;

  launch('pebble-challtestsrv', [
    '-dns01', `127.0.0.1:${dnsPort}`,
    '-management', `127.0.0.1:${ctsMgmtPort}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
  ]);
  launch('pebble', ['-config', configFile, '-dnsserver', opts.dnsServer ?? `127.0.0.1:${dnsPort}`, '-strict=false'], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_AUTHZREUSE: '0',
    PEBBLE_WFE_NONCEREJECT: '0',
    ...opts.env,
  });

  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all([waitForPort(acmePort), waitForPort(mgmtPort), waitForPort(ctsMgmtPort)]);
  } catch (e) {
    await stop();
    throw e;
  }

  const caRootPem = readFileSync(caRootFile, 'utf8');
  const mgmtGet = (p: string) =>
    new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: mgmtPort, path: p, ca: caRootPem, servername: 'localhost' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`pebble ${p}: ${res.statusCode}`))));
        })
        .on('error', reject);
    });

  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    caRootFile,
    caRootPem,
    httpPort,
    tlsPort,
    dnsPort,
    challtestsrvUrl: `http://127.0.0.1:${ctsMgmtPort}`,
    issuingRootPem: () => mgmtGet('/roots/0'),
    issuingIntermediatePem: () => mgmtGet('/intermediates/0'),
    challtestsrv: (endpoint, body) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: ctsMgmtPort, path: `/${endpoint}`, method: 'POST' },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`challtestsrv ${endpoint}: ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      }),
    stop,
  };
}
