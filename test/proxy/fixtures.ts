import { execFileSync, execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { after } from 'node:test';
import type { AddressInfo } from 'node:net';
import { requireTool } from '../helpers/tools';
import { tmpDir } from '../helpers/tmp';
import { CertificateTable, type ServedCertificate } from '../../main/engine/proxy/cert-source';
import { Proxy, type ProxyOptions } from '../../main/engine/proxy/proxy';
import type { RouteInput, ProxySettingsInput } from '../../main/engine/config/routes';
import { ChallengeStore } from '../../main/engine/acme/challenges';

/** A throw-away CA (openssl) that signs leaf certificates for any names, for tests that need any valid certificate. */
export class TestCa {
  readonly dir = tmpDir('homeport-proxy-ca-');
  readonly caFile = path.join(this.dir, 'ca.pem');
  private readonly caKey = path.join(this.dir, 'ca.key');
  private n = 0;

  constructor() {
    requireTool('openssl');
    this.openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.caKey,
      '-out', this.caFile, '-days', '2', '-subj', '/CN=Homeport proxy test CA');
  }

  get caPem(): string {
    return readFileSync(this.caFile, 'utf8');
  }

  issue(id: string, names: string[]): ServedCertificate {
    const base = path.join(this.dir, `${id}-${++this.n}`);
    writeFileSync(`${base}.ext`, `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
    this.openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`,
      '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`);
    this.openssl('x509', '-req', '-in', `${base}.csr`, '-CA', this.caFile, '-CAkey', this.caKey, '-CAcreateserial',
      '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`);
    return { id, certPem: readFileSync(`${base}.pem`, 'utf8'), chainPem: '', keyPem: readFileSync(`${base}.key`, 'utf8') };
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { stdio: 'pipe' });
  }
}

/** `autoStop: false` when called from a before() hook (an after() there would run when the hook ends). */
export async function startUpstream(handler: http.RequestListener, server = http.createServer(handler), autoStop = true): Promise<{ server: http.Server; url: string; port: number }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  if (autoStop) after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}`, port };
}

export interface TestProxy {
  proxy: Proxy;
  table: CertificateTable;
  challenges: ChallengeStore;
  httpPort: number;
  httpsPort: number;
}

export async function startProxy(routes: RouteInput[], opts: { settings?: ProxySettingsInput; table?: CertificateTable; extra?: Partial<ProxyOptions>; autoStop?: boolean } = {}): Promise<TestProxy> {
  const table = opts.table ?? new CertificateTable();
  const challenges = new ChallengeStore();
  const proxy = new Proxy({
    routes,
    settings: { listen: ['127.0.0.1'], ...opts.settings },
    httpPort: 0,
    httpsPort: 0,
    certificates: table,
    challenges,
    ...opts.extra,
  });
  const { httpPort, httpsPort } = await proxy.start();
  if (opts.autoStop !== false) after(() => proxy.stop(500));
  return { proxy, table, challenges, httpPort, httpsPort };
}

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  httpVersion: string;
  code: number;
  stderr: string;
}

/**
 * curl against the proxy with every name resolved to 127.0.0.1. Returns the last response
 * (after redirects if -L is given).
 */
export function curl(url: string, args: string[] = [], opts: { ca?: string; ports?: number[] } = {}): Promise<CurlResult> {
  requireTool('curl');
  const u = new URL(url);
  const resolve = `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}:127.0.0.1`;
  const full = ['-sS', '--max-time', '20', '-D', '-', '-o', '-', '--resolve', resolve, '-w', '\n%{http_version}', ...(opts.ca ? ['--cacert', opts.ca] : []), ...args, url];
  return new Promise((resolvePromise) => {
    execFile('curl', full, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      const lastNl = stdout.lastIndexOf('\n');
      const httpVersion = stdout.slice(lastNl + 1);
      const text = stdout.slice(0, lastNl);
      // The last header block (after any 1xx or redirect blocks) and its body.
      const blocks = text.split(/\r\n\r\n/);
      let i = 0;
      while (i < blocks.length - 1 && /^HTTP\/[\d.]+ (1\d\d|30\d)/.test(blocks[i]!) && /^HTTP\//.test(blocks[i + 1] ?? '')) i++;
      const head = blocks[i] ?? '';
      const body = blocks.slice(i + 1).join('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const c = l.indexOf(':');
        if (c > 0) headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      resolvePromise({ status: Number(statusLine?.split(' ')[1] ?? 0), headers, body, httpVersion, code, stderr });
    });
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request over TLS (or plain HTTP) to the proxy on 127.0.0.1, naming `host` in SNI and Host. */
export function request(
  port: number,
  host: string,
  opts: { path?: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string; ca?: string; tls?: boolean; agent?: false } = {},
): Promise<Reply> {
  const useTls = opts.tls ?? true;
  return new Promise((resolve, reject) => {
    const mod = useTls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: { host, ...opts.headers },
        servername: useTls ? host : undefined,
        ca: opts.ca,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An upstream that answers with what it received, as JSON. */
export function echoUpstream(name = 'echo', autoStop = true): Promise<{ server: http.Server; url: string; port: number; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  return startUpstream(() => {}, server, autoStop).then((u) => ({ ...u, seen }));
}
