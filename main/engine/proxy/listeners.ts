import * as http from 'node:http';
import * as https from 'node:https';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ACME_TLS_ALPN, HTTP01_PATH_PREFIX, type ChallengeStore } from '../acme/challenges';
import type { ProxySettings } from '../config/routes';
import type { CertificateSource, HandshakeHold } from './cert-source';
import { TLS_CIPHERS, fullChain } from './cert-source';
import { renewSessionTickets } from './ticket-keys';
import type { RequestHandler } from './handler';

/** Marks a socket whose client offered acme-tls/1 for a name with a pending tls-alpn-01. */
const kAcme = Symbol('homeport.acme-tls');

/** Slowloris and size limits shared by both HTTP/1.1 servers. */
function http1Options(s: ProxySettings): http.ServerOptions {
  return {
    maxHeaderSize: s.maxHeaderSize,
    headersTimeout: s.headersTimeoutMs,
    requestTimeout: s.requestTimeoutMs,
    keepAliveTimeout: s.keepAliveTimeoutMs,
    // The timeouts above are enforced by a sweep at this interval: keep it well under them.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(s.headersTimeoutMs / 4))),
    noDelay: true,
    // Requests with both Content-Length and Transfer-Encoding, bare LF, obs-fold…: refused.
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
  };
}

/**
 * Port 80: answers http-01 challenges from the shared store, then redirects to HTTPS (or
 * proxies a route that opted out of the redirect).
 */
export function createHttpServer(settings: ProxySettings, challenges: ChallengeStore, handler: RequestHandler, httpsPort: () => number): http.Server {
  const server = http.createServer(http1Options(settings), (req, res) => {
    const url = req.url ?? '';
    if (url.startsWith(HTTP01_PATH_PREFIX) && (req.method === 'GET' || req.method === 'HEAD')) {
      const token = url.slice(HTTP01_PATH_PREFIX.length).split('?')[0]!;
      const answer = challenges.getHttp01(token);
      if (answer !== undefined) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(answer), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : answer);
        return;
      }
    }
    handler.handle(req, res, 'http', httpsPort());
  });
  server.timeout = settings.idleTimeoutMs;
  server.on('upgrade', (req, socket, head) => handler.upgrade(req, socket, head, 'http'));
  server.on('clientError', onClientError);
  server.on('connect', refuseTunnel);
  return server;
}

export interface HttpsServers {
  tls: https.Server;
  h2: http2.Http2Server;
  /** Open HTTP/2 sessions, for a graceful drain. */
  sessions: Set<http2.ServerHttp2Session>;
}

/**
 * Port 443: one TLS listener; the SNI callback picks the certificate, ALPN picks the
 * protocol, and each connection then goes to the HTTP/1.1 or the HTTP/2 server.
 */
export function createHttpsServers(
  settings: ProxySettings,
  source: CertificateSource,
  challenges: ChallengeStore,
  handler: RequestHandler,
  httpsPort: () => number,
  hold?: HandshakeHold,
): HttpsServers {
  const tlsServer = https.createServer({
    ...http1Options(settings),
    ...listenerContext(settings, source),
    handshakeTimeout: settings.handshakeTimeoutMs,
    // Runs before SNICallback under TLS 1.3 (OpenSSL negotiates ALPN early there), so a
    // validation handshake is known when the certificate is chosen.
    ALPNCallback(this: TLSSocket, { servername, protocols }: { servername: string; protocols: string[] }) {
      if (protocols.includes(ACME_TLS_ALPN) && servername && challenges.getTlsAlpn01(servername)) {
        (this as unknown as Record<symbol, boolean>)[kAcme] = true;
        return ACME_TLS_ALPN;
      }
      if (protocols.includes('h2')) return 'h2';
      if (protocols.includes('http/1.1')) return 'http/1.1';
      return undefined;
    },
    SNICallback(this: TLSSocket, servername: string, cb: (err: Error | null, ctx?: import('node:tls').SecureContext) => void) {
      const name = servername.toLowerCase();
      if ((this as unknown as Record<symbol, boolean>)[kAcme]) {
        const answer = challenges.getTlsAlpn01(name);
        if (answer) return cb(null, answer);
      }
      // A name with no certificate yet that is being validated: under TLS 1.2 the certificate is
      // chosen before ALPN, and only the CA asks for such a name, so it gets the challenge answer.
      const served = source.servedFor(name);
      const wait = served && hold?.(served.id);
      if (wait) return holdHandshake(this, wait, settings.handshakeTimeoutMs, () => cb(null, source.contextFor(name) ?? served.context));
      const ctx =
        served?.context ??
        challenges.getTlsAlpn01(name) ??
        (settings.unknownName === 'default-certificate' ? source.defaultContext() : undefined);
      if (!ctx) return refuseName(this, cb);
      cb(null, ctx);
    },
  } as https.ServerOptions);
  tlsServer.timeout = settings.idleTimeoutMs;
  const ticketKeys = () => ({ current: source.ticketKeys, previous: source.previousTicketKeys });
  if (!renewSessionTickets(tlsServer, ticketKeys)) {
    const offKeys = source.onTicketKeys((keys) => tlsServer.setTicketKeys(keys));
    tlsServer.once('close', offKeys);
  }
  if (settings.unknownName === 'default-certificate') {
    // setSecureContext builds a new context from these options alone, and the ticket hook
    // lives on the context it replaces.
    const offDefault = source.onDefaultChange(() => {
      tlsServer.setSecureContext(listenerContext(settings, source));
      renewSessionTickets(tlsServer, ticketKeys);
    });
    tlsServer.once('close', offDefault);
  }

  const h2 = http2.createServer({
    settings: { enableConnectProtocol: true, maxConcurrentStreams: 250, maxHeaderListSize: settings.maxHeaderSize },
    maxSessionMemory: 32,
    maxHeaderListPairs: 256,
  });
  h2.on('request', (req, res) => handler.handle(req, res, 'https', httpsPort()));
  // Extended CONNECT (RFC 8441 WebSockets) arrives as 'connect', not 'request'.
  h2.on('connect', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => handler.handle(req, res, 'https', httpsPort()));
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    // Node would end an idle session with every stream on it, a quiet WebSocket tunnel too
    // (which an HTTP/1.1 upgrade survives): such a session is only looked at again later.
    s.setTimeout(settings.idleTimeoutMs, function idle() {
      if (handler.carriesTunnel(s)) s.setTimeout(settings.idleTimeoutMs, idle);
      else s.destroy();
    });
  });
  h2.on('sessionError', () => {});

  const [http1Listener] = tlsServer.listeners('secureConnection') as ((s: TLSSocket) => void)[];
  tlsServer.removeAllListeners('secureConnection');
  tlsServer.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      h2.emit('connection', socket);
    } else if (socket.alpnProtocol === ACME_TLS_ALPN) {
      // The CA only needs the handshake; nothing is spoken on this connection.
      socket.end();
    } else {
      http1Listener!.call(tlsServer, socket);
    }
  });
  tlsServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => handler.handle(req, res, 'https', httpsPort()));
  tlsServer.on('upgrade', (req, socket, head) => handler.upgrade(req, socket, head, 'https'));
  tlsServer.on('clientError', onClientError);
  tlsServer.on('connect', refuseTunnel);
  tlsServer.on('tlsClientError', () => {});
  return { tls: tlsServer, h2, sessions };
}

/**
 * The options of the listener's own context. Node calls SNICallback only when the client
 * sent a name, so a client without one (someone browsing to the bare IP address) gets the
 * certificate of this context: the default certificate when unknown names get it. With
 * 'refuse' there is none, and such a handshake fails (handshake_failure: there is no name to
 * refuse with unrecognized_name).
 */
function listenerContext(settings: ProxySettings, source: CertificateSource): https.ServerOptions {
  const fallback = settings.unknownName === 'default-certificate' ? source.defaultCertificate() : undefined;
  return {
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
    ticketKeys: source.ticketKeys,
    // Node derives the default from process.argv, which differs between the primary and its
    // helpers: a session would then resume only on the process that started it.
    sessionIdContext: 'homeport-proxy',
    ...(fallback && { cert: fullChain(fallback), key: fallback.keyPem }),
  };
}

/**
 * Answers the ClientHello only once `wait` settles. The handshake timeout is paused meanwhile
 * (the policy allows up to 120 s, more than a handshake normally gets) and re-armed after, and
 * the context is looked up again then: a certificate activated during the wait is the one sent.
 */
function holdHandshake(socket: TLSSocket, wait: Promise<void>, handshakeTimeoutMs: number, answer: () => void): void {
  socket.setTimeout(0);
  const go = () => {
    if (socket.destroyed) return;
    socket.setTimeout(handshakeTimeoutMs);
    answer();
  };
  wait.then(go, go);
}

/** A fatal unrecognized_name alert (RFC 6066 §3) as a plaintext TLS record: no ServerHello was sent yet. */
const UNRECOGNIZED_NAME_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70]);

/**
 * Refuses a handshake for a name without a certificate with the alert a client can explain
 * ("unrecognized name"). Node offers no way to send it, so it is written on the TCP socket
 * under the TLS layer, which is idle while the SNI callback holds the handshake.
 */
function refuseName(socket: TLSSocket, cb: (err: Error | null) => void): void {
  const raw = (socket as unknown as { _parent?: net.Socket })._parent;
  if (!raw?.writable) return cb(new Error('unrecognized name'));
  raw.write(UNRECOGNIZED_NAME_ALERT, () => socket.destroy());
}

/** HTTP/1.1 CONNECT asks for a tunnel: Homeport is not a forward proxy. */
function refuseTunnel(_req: http.IncomingMessage, socket: import('node:stream').Duplex): void {
  socket.on('error', () => socket.destroy());
  socket.end('HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
}

/** Malformed requests get a bare 400 and the connection closes; nothing reaches a route. */
function onClientError(err: NodeJS.ErrnoException, socket: net.Socket | import('node:stream').Duplex): void {
  // Only HTTP parse errors and request timeouts get an answer; TLS failures (handshake
  // timeout, bad ClientHello) and resets just close.
  const httpProblem = err.code?.startsWith('HPE_') || err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  if (!httpProblem || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/**
 * Listens on every address in `addresses` with one server: the first address is the
 * server's own, the others hand their connections to it. '::' also takes IPv4 where the
 * system allows dual-stack sockets; where IPv6 is missing it falls back to 0.0.0.0.
 */
export async function listenAll(server: net.Server, port: number, addresses: string[]): Promise<{ port: number; extra: net.Server[] }> {
  const [first, ...rest] = addresses.length ? addresses : ['::'];
  const bound = await listenOne(server, port, first!);
  const extra: net.Server[] = [];
  for (const addr of rest) {
    const relay = net.createServer({ pauseOnConnect: false }, (socket) => server.emit('connection', socket));
    await listenOne(relay, bound, addr);
    extra.push(relay);
  }
  return { port: bound, extra };
}

/**
 * Accepts on sockets another process bound (received over IPC as listening net.Servers):
 * the first becomes `server`'s own handle, so its timeouts and connection tracking run as
 * if it had bound the port; the others relay their connections to it. Returns those relays.
 */
export async function listenOnInherited(server: net.Server, sockets: net.Server[]): Promise<net.Server[]> {
  const [first, ...rest] = sockets;
  if (!first) return [];
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(first, () => {
      server.off('error', reject);
      resolve();
    });
  });
  for (const relay of rest) relay.on('connection', (socket) => server.emit('connection', socket));
  return rest;
}

function listenOne(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (host === '::' && (e.code === 'EAFNOSUPPORT' || e.code === 'EADDRNOTAVAIL')) {
        listenOne(server, port, '0.0.0.0').then(resolve, reject);
      } else {
        reject(e);
      }
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, ipv6Only: false });
  });
}
