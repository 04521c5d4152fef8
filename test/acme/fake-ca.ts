import * as https from 'node:https';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';

/**
 * A small HTTPS server that speaks just enough ACME for what Pebble 2.4 cannot show:
 * a directory with renewalInfo (RFC 9773) and a CA that answers newOrder with a chosen
 * problem. Its TLS certificate comes from a throw-away CA made with openssl.
 */
export interface FakeCa {
  directoryUrl: string;
  caRootFile: string;
  /** Decoded JWS payloads of every newOrder request. */
  orders: Record<string, unknown>[];
  /** Decoded JWS payloads of every account created (newAccount without onlyReturnExisting). */
  accounts: Record<string, unknown>[];
  /** Requested renewalInfo certIDs. */
  renewalInfoRequests: string[];
  close(): Promise<void>;
}

export interface FakeCaOptions {
  /** renewalInfo answer per certID; missing → 404. */
  renewalInfo?: (certId: string) => { body: unknown; retryAfter?: string } | undefined;
  /** The problem newOrder answers with (status, problem JSON, headers). */
  orderProblem?: { status: number; problem: Record<string, unknown>; headers?: Record<string, string> };
  termsOfService?: string;
}

export function makeTlsCa(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const f = (n: string) => path.join(dir, n);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'),
    '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Homeport fake ACME CA');
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('tls.key'),
    '-out', f('tls.csr'), '-subj', '/CN=localhost');
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', f('tls.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('tls.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  return { caFile: f('ca.pem'), certFile: f('tls.pem'), keyFile: f('tls.key') };
}

export async function startFakeCa(dir: string, opts: FakeCaOptions = {}): Promise<FakeCa> {
  const tls = makeTlsCa(dir);
  const orders: Record<string, unknown>[] = [];
  const accounts: Record<string, unknown>[] = [];
  const accountKeys = new Set<string>();
  const renewalInfoRequests: string[] = [];
  let nonce = 0;
  let base = '';
  const server = https.createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = { 'replay-nonce': `nonce-${++nonce}` };
      const json = (status: number, body: unknown, extra: Record<string, string> = {}) => {
        res.writeHead(status, { ...headers, 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...extra });
        res.end(JSON.stringify(body));
      };
      const url = req.url ?? '/';
      if (url === '/dir') {
        return json(200, {
          newNonce: `${base}/nonce`,
          newAccount: `${base}/account`,
          newOrder: `${base}/order`,
          renewalInfo: `${base}/renewal-info`,
          meta: opts.termsOfService ? { termsOfService: opts.termsOfService } : {},
        });
      }
      if (url === '/nonce') {
        res.writeHead(200, headers);
        return res.end();
      }
      const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
      const jws = () => JSON.parse(Buffer.concat(chunks).toString('utf8')) as { protected: string; payload: string };
      const payload = () => decode(jws().payload);
      if (url === '/account') {
        const body = payload();
        const key = JSON.stringify(decode(jws().protected).jwk);
        if (body.onlyReturnExisting && !accountKeys.has(key)) {
          return json(400, { type: 'urn:ietf:params:acme:error:accountDoesNotExist', detail: 'no account for this key' });
        }
        if (!body.onlyReturnExisting) {
          accounts.push(body);
          accountKeys.add(key);
        }
        return json(201, { status: 'valid' }, { location: `${base}/account/1` });
      }
      if (url === '/order') {
        orders.push(payload());
        const p = opts.orderProblem ?? { status: 500, problem: { type: 'urn:ietf:params:acme:error:serverInternal', detail: 'not implemented' } };
        return json(p.status, p.problem, p.headers);
      }
      if (url.startsWith('/renewal-info/')) {
        const id = url.slice('/renewal-info/'.length);
        renewalInfoRequests.push(id);
        const answer = opts.renewalInfo?.(id);
        if (!answer) return json(404, { type: 'urn:ietf:params:acme:error:malformed', detail: 'unknown certificate' });
        return json(200, answer.body, answer.retryAfter ? { 'retry-after': answer.retryAfter } : {});
      }
      json(404, { type: 'urn:ietf:params:acme:error:malformed', detail: 'no such resource' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    directoryUrl: `${base}/dir`,
    caRootFile: tls.caFile,
    orders,
    accounts,
    renewalInfoRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
