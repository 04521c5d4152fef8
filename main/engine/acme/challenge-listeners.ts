import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { HomeportError } from '../errors';
import { isPortDenied, portDeniedFix, portDeniedMessage } from '../privileged-port';
import { ACME_TLS_ALPN, HTTP01_PATH_PREFIX, type ChallengeStore } from './challenges';

/**
 * Standalone challenge listeners for `homeport issue` when the proxy is not running:
 * http-01 on the HTTP port and tls-alpn-01 (ALPN acme-tls/1) on the HTTPS port, both
 * answering from a ChallengeStore. They answer nothing else.
 */
export interface ChallengeListeners {
  /** Bound ports (useful with port 0), undefined for a listener not started. */
  httpPort?: number;
  httpsPort?: number;
  close(): Promise<void>;
}

export async function startChallengeListeners(opts: {
  store: ChallengeStore;
  /** Port for http-01; omit to not listen. */
  httpPort?: number;
  /** Port for tls-alpn-01; omit to not listen. */
  httpsPort?: number;
  /** Address to bind; default every address (IPv6 and IPv4). */
  host?: string;
}): Promise<ChallengeListeners> {
  const servers: net.Server[] = [];
  const close = () =>
    Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            (s as http.Server).closeAllConnections?.();
          }),
      ),
    ).then(() => undefined);
  try {
    const result: ChallengeListeners = { close };
    if (opts.httpPort !== undefined) {
      const server = http.createServer((req, res) => {
        const url = req.url ?? '';
        const answer = url.startsWith(HTTP01_PATH_PREFIX) ? opts.store.getHttp01(url.slice(HTTP01_PATH_PREFIX.length)) : undefined;
        if (req.method === 'GET' && answer !== undefined) {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(answer) });
          res.end(answer);
        } else {
          res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' });
          res.end('not found\n');
        }
      });
      server.keepAliveTimeout = 1_000;
      servers.push(server);
      result.httpPort = await listen(server, opts.httpPort, opts.host, 'http-01');
    }
    if (opts.httpsPort !== undefined) {
      const server = tls.createServer({
        ALPNProtocols: [ACME_TLS_ALPN],
        SNICallback: (name, cb) => {
          const ctx = opts.store.getTlsAlpn01(name);
          if (ctx) cb(null, ctx);
          else cb(new Error(`no tls-alpn-01 challenge pending for ${name}`));
        },
      });
      // The CA only looks at the handshake; end the connection once it is done.
      server.on('secureConnection', (socket) => socket.end());
      server.on('tlsClientError', () => undefined);
      servers.push(server);
      result.httpsPort = await listen(server, opts.httpsPort, opts.host, 'tls-alpn-01');
    }
    return result;
  } catch (e) {
    await close();
    throw e;
  }
}

async function listen(server: net.Server, port: number, host: string | undefined, what: string): Promise<number> {
  const attempt = (h: string | undefined) =>
    new Promise<number>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      server.once('error', onError);
      server.listen({ port, host: h, ipv6Only: false }, () => {
        server.off('error', onError);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  try {
    // No host: the default binds '::' with IPv4 mapped in; fall back to IPv4 alone where IPv6 is off.
    return await attempt(host).catch((e: NodeJS.ErrnoException) => {
      if (host === undefined && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) return attempt('0.0.0.0');
      throw e;
    });
  } catch (e) {
    throw listenError(e as NodeJS.ErrnoException, port, what);
  }
}

function listenError(e: NodeJS.ErrnoException, port: number, what: string): HomeportError {
  const flag = what === 'http-01' ? '--http-port' : '--https-port';
  if (e.code === 'EADDRINUSE') {
    return new HomeportError('listener.port-in-use', `Port ${port} is already in use by another program, so Homeport cannot answer ${what} challenges on it.`, {
      fix: `Stop the program using port ${port} (if it is \`homeport serve\`, it answers challenges itself), or pick a free port with ${flag} and forward ${what === 'http-01' ? 80 : 443} to it, or use --challenge dns-01.`,
      cause: e,
      details: { port },
    });
  }
  if (isPortDenied(e)) {
    return new HomeportError('listener.port-privileged', portDeniedMessage(port, `answer ${what} challenges`), {
      fix: portDeniedFix(`use ${flag} 8${what === 'http-01' ? '080' : '443'} and forward ${what === 'http-01' ? 80 : 443} to it on your router`),
      cause: e,
      details: { port },
    });
  }
  return new HomeportError('listener.failed', `Homeport cannot listen on port ${port} for ${what} challenges: ${e.message}.`, { cause: e, details: { port } });
}
