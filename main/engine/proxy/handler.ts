import * as http from 'node:http';
import * as https from 'node:https';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session, Http2Stream } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ProxySettings } from '../config/routes';
import type { AccessLogger } from './access-log';
import { clientResponseHeaders, upstreamRequestHeaders, type ForwardInfo } from './headers';
import { sendPage } from './pages';
import { routingTarget } from './request-path';
import { hostOf, routePath, type CompiledRoute, type RouteTable } from './route-table';
import type { UpstreamTarget } from './upstream-pool';

type Req = http.IncomingMessage | Http2ServerRequest;
type Res = http.ServerResponse | Http2ServerResponse;
type Proto = 'http' | 'https';

/** What the handler reads on every request; the proxy swaps `table` on a route reload. */
export interface HandlerState {
  table: RouteTable;
  settings: ProxySettings;
  log?: AccessLogger;
}

const AMBIGUOUS_PATH = 'The request path is malformed or ambiguous.';

/** RFC 9110 §9.2.2: a request with one of these methods may be sent again. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** `OPTIONS *`: the methods passed on to upstreams (CONNECT is refused, being no forward proxy). */
const SERVER_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE';

/** Errors that mean "this upstream did not get the request": safe to try another. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EAI_AGAIN', 'ENOTFOUND', 'UPSTREAM_CONNECT_TIMEOUT']);

function clientAddress(req: { socket: { remoteAddress?: string } }): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/**
 * Why an upstream failed, in words fit for the visitor's error page: the kind of failure,
 * never the upstream's address or the error's own text, which go to the access log.
 */
function describeUpstreamError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'the connection was refused: nothing is listening there';
    case 'UPSTREAM_CONNECT_TIMEOUT':
      return 'it did not accept the connection in time';
    case 'UPSTREAM_ANSWER_TIMEOUT':
      return 'it did not answer in time';
    case 'ENOENT':
      return 'the unix socket does not exist';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'its name does not resolve';
    case 'ECONNRESET':
      return 'it closed the connection without answering';
    default:
      return e.code?.startsWith('ERR_TLS') || /certificate/i.test(e.message)
        ? 'its TLS certificate was not accepted; set trustSelfSigned for a self-signed upstream'
        : `it failed (${e.code ?? 'no answer'})`;
  }
}

/**
 * The request path of the proxy, shared by the HTTP/1.1 and HTTP/2 servers: find the route
 * by Host (never by an absolute URL, so this is no open proxy), apply the allow-list and
 * basic auth, then stream the request to an upstream and the response back.
 */
export class RequestHandler {
  /** The client side of every open WebSocket tunnel. */
  private readonly tunnels = new Set<Duplex>();

  constructor(private readonly state: HandlerState) {}

  handle(req: Req, res: Res, proto: Proto, httpsPort: number): void {
    const start = performance.now();
    const rawHost = (req.headers.host ?? req.headers[':authority']) as string | undefined;
    const host = hostOf(rawHost);
    const url = req.url ?? '';
    const isH2 = req.httpVersionMajor === 2;
    if (!host || !rawHost) {
      return this.reject(req, res, proto, start, 400, 'Bad request', 'The request has no valid Host header.');
    }
    if (url === '*' && req.method === 'OPTIONS') {
      // No upstream takes `*` as a path (it would be a 502): the proxy speaks for itself.
      res.writeHead(204, { allow: SERVER_METHODS });
      this.track(req, res, proto, start, undefined);
      res.end();
      return;
    }
    if (url.charCodeAt(0) !== 47 /* / */ && !(isH2 && req.method === 'CONNECT')) {
      return this.reject(req, res, proto, start, 400, 'Bad request', 'Homeport only serves its own sites; it is not a forward proxy.');
    }
    const routing = routingTarget(url);
    if (!routing) return this.reject(req, res, proto, start, 400, 'Bad request', AMBIGUOUS_PATH);
    const route = this.state.table.match(host, routing.key);
    if (!route) {
      return this.reject(req, res, proto, start, proto === 'https' ? 421 : 404, 'Unknown site', `Homeport does not serve ${host}.`);
    }
    const path = routePath(route, routing.forward);
    if (path === undefined) return this.reject(req, res, proto, start, 400, 'Bad request', AMBIGUOUS_PATH, route);
    if (proto === 'http' && route.config.redirectHttp) {
      const port = httpsPort === 443 ? '' : `:${httpsPort}`;
      const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 301 : 308, {
        location: `https://${bracketed}${port}${url}`,
        'content-length': 0,
      });
      this.track(req, res, proto, start, route);
      res.end();
      return;
    }
    const clientIp = clientAddress(req);
    if (route.allow && !route.allow.check(clientIp, isIP(clientIp) === 6 ? 'ipv6' : 'ipv4')) {
      return this.reject(req, res, proto, start, 403, 'Not allowed', `${route.label} only accepts visitors from its allowed networks.`, route);
    }
    if (req.method === 'CONNECT' && !(isH2 && req.headers[':protocol'] === 'websocket')) {
      return this.reject(req, res, proto, start, 405, 'Method not allowed', 'CONNECT is not supported: Homeport is not a forward proxy.', route);
    }
    const info: ForwardInfo = { clientIp, proto, host: rawHost, upstreamHost: route.config.hostRewrite ?? rawHost, path };
    if (route.auth) {
      route.auth.check(req.headers.authorization).then(
        (user) => {
          // The visitor left during the password check: nothing to answer or forward, only to count.
          if ((res as { destroyed?: boolean }).destroyed) return this.done(req, res, proto, start, route, { bytesIn: 0, bytesOut: 0, upstream: undefined });
          if (user === undefined) {
            return this.reject(req, res, proto, start, 401, 'Sign-in required', `${route.label} needs a user name and password.`, route, {
              'www-authenticate': route.auth!.challenge,
            });
          }
          // The password is for Homeport; the upstream never sees it.
          delete req.headers.authorization;
          this.dispatch(req, res, route, info, start);
        },
        () => this.reject(req, res, proto, start, 500, 'Sign-in failed', 'The password check failed.', route),
      );
      return;
    }
    this.dispatch(req, res, route, info, start);
  }

  private dispatch(req: Req, res: Res, route: CompiledRoute, info: ForwardInfo, start: number): void {
    const meter = this.track(req, res, info.proto, start, route);
    if (req.method === 'CONNECT') return this.h2WebSocket(req as Http2ServerRequest, res as Http2ServerResponse, route, info, meter);
    this.forward(req, res, route, info, meter, undefined);
  }

  private request(target: UpstreamTarget, method: string, path: string, headers: http.OutgoingHttpHeaders): http.ClientRequest {
    const u = target.upstream;
    const opts: https.RequestOptions = { method, path, headers, agent: target.agent };
    if (u.kind === 'unix') {
      opts.socketPath = u.socketPath;
    } else {
      opts.host = u.host;
      opts.port = u.port;
      if (u.kind === 'https' && !isIP(u.host)) opts.servername = u.host;
    }
    const upReq = (u.kind === 'https' ? https : http).request(opts);
    const timeoutMs = this.state.settings.upstreamConnectTimeoutMs;
    upReq.on('socket', (socket) => {
      if (!(socket as { connecting?: boolean }).connecting) return;
      const timer = setTimeout(() => {
        const e = Object.assign(new Error(`no connection to ${u.url} within ${timeoutMs} ms`), { code: 'UPSTREAM_CONNECT_TIMEOUT' });
        upReq.destroy(e);
      }, timeoutMs);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    return upReq;
  }

  private forward(req: Req, res: Res, route: CompiledRoute, info: ForwardInfo, meter: Meter, tried: Set<UpstreamTarget> | undefined): void {
    const target = route.pool.pick(tried);
    if (!target) return badGateway(res, route, 'it has no upstream');
    meter.upstream = target.upstream.url;
    const headers = upstreamRequestHeaders(req.headers, info);
    // The client's Expect was answered here (node:http sends its 100 Continue); the body follows.
    delete headers.expect;
    const bodiless = hasNoBody(req);
    let answered = false;
    let abort: ((e?: Error) => void) | undefined;
    let aborted = false;
    let resumeUpstream: (() => void) | undefined;
    const onClientClose = () => {
      if (res.writableFinished) return;
      aborted = true;
      abort?.();
    };
    res.once('close', onClientClose);
    const isHead = req.method === 'HEAD';

    target.dispatcher.dispatch(
      {
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        path: target.upstream.basePath + info.path,
        headers: headers as Record<string, string | string[]>,
        // undici takes async iterables; its types only list streams.
        body: bodiless ? undefined : (requestBody(req, meter) as unknown as Readable),
      },
      {
        onConnect: (a) => {
          abort = a;
          if (aborted) a();
        },
        onHeaders: (status, raw, resume) => {
          // An interim answer: Early Hints pass on (the page can start loading its assets),
          // 100 Continue was given here already; the final answer follows.
          if (status < 200) {
            if (status === 103) passEarlyHints(req, res, raw);
            return true;
          }
          answered = true;
          route.pool.markOk(target);
          const upHeaders = headersFromRaw(raw);
          const out = clientResponseHeaders(upHeaders);
          if (route.hsts && info.proto === 'https') out['strict-transport-security'] = route.hsts;
          try {
            res.writeHead(status, out);
          } catch (e) {
            abort?.();
            badGateway(res, route, 'it sent a response Homeport cannot pass on', meter, `${target.upstream.url}: ${(e as Error).message}`);
            return false;
          }
          // Server-sent events and other slow streams: the client gets the head at once.
          if ((upHeaders['content-type'] as string | undefined)?.startsWith('text/event-stream') && 'flushHeaders' in res) res.flushHeaders();
          // A declared length is what goes out when the response completes; only bodies of
          // unknown length are counted chunk by chunk.
          const declared = upHeaders['content-length'];
          if (declared !== undefined && !isHead) meter.declared = Number(declared);
          resumeUpstream = resume;
          return true;
        },
        onData: (chunk) => {
          // The client is gone: no 'drain' will come, so stop the upstream rather than wait.
          if ((res as { destroyed?: boolean }).destroyed) {
            abort?.();
            return false;
          }
          if (meter.declared === undefined) meter.bytesOut += chunk.length;
          if ((res as http.ServerResponse).write(chunk)) return true;
          // Backpressure: the upstream waits until the client has taken what it has.
          res.once('drain', resumeUpstream!);
          return false;
        },
        onComplete: () => {
          if (meter.declared !== undefined) meter.bytesOut = meter.declared;
          res.end();
        },
        onError: (e: NodeJS.ErrnoException) => {
          if (answered) return void (res as { destroy(): void }).destroy();
          if (aborted || res.writableEnded || (res as { destroyed?: boolean }).destroyed) return;
          res.off('close', onClientClose);
          const code = upstreamErrorCode(e);
          const connectFailure = CONNECT_ERRORS.has(code);
          if (connectFailure) route.pool.markFailed(target);
          // A kept-alive connection the upstream closed as the request went out: once more,
          // unless the upstream may have acted on it already and acting twice is not harmless.
          const reset = code === 'ECONNRESET' && !meter.retriedReset && IDEMPOTENT.has(req.method ?? '');
          if (reset) meter.retriedReset = true;
          const attempts = tried ?? new Set<UpstreamTarget>();
          if (connectFailure) attempts.add(target);
          if (bodiless && (reset || (connectFailure && attempts.size < route.pool.targets.length))) {
            return this.forward(req, res, route, info, meter, attempts);
          }
          badGateway(res, route, describeUpstreamError(Object.assign(e, { code })), meter, `${target.upstream.url}: ${e.message}`);
        },
      },
    );
  }

  /** RFC 8441: a WebSocket over an HTTP/2 stream, bridged to an HTTP/1.1 upgrade upstream. */
  private h2WebSocket(req: Http2ServerRequest, res: Http2ServerResponse, route: CompiledRoute, info: ForwardInfo, meter: Meter): void {
    const target = route.pool.pick();
    if (!target) return badGateway(res, route, 'it has no upstream');
    meter.upstream = target.upstream.url;
    const headers = upstreamRequestHeaders(req.headers, info);
    headers.connection = 'upgrade';
    headers.upgrade = 'websocket';
    // HTTP/2 WebSockets carry no key; the upstream's HTTP/1.1 handshake needs one.
    headers['sec-websocket-key'] = randomBytes(16).toString('base64');
    const upReq = this.request(target, 'GET', target.upstream.basePath + info.path, headers);
    const settle = this.awaitUpgrade(upReq, req.stream);
    upReq.on('upgrade', (upRes, upSocket, upHead) => {
      if (!settle()) return void upSocket.destroy();
      const out: http.OutgoingHttpHeaders = {};
      for (const h of ['sec-websocket-protocol', 'sec-websocket-extensions']) if (upRes.headers[h]) out[h] = upRes.headers[h];
      res.writeHead(200, out);
      if (upHead.length) req.stream.write(upHead);
      this.joinTunnel(req.stream, upSocket, route.counters);
    });
    upReq.on('response', (upRes) => {
      settle();
      res.writeHead(upRes.statusCode ?? 502, clientResponseHeaders(upRes.headers));
      upRes.pipe(res as unknown as NodeJS.WritableStream);
    });
    upReq.on('error', (e: NodeJS.ErrnoException) => {
      if (CONNECT_ERRORS.has(e.code ?? '')) route.pool.markFailed(target);
      badGateway(res, route, describeUpstreamError(e), meter, `${target.upstream.url}: ${e.message}`);
    });
    upReq.end();
  }

  /** HTTP/1.1 Upgrade (WebSocket): checked like a request, then the two sockets are joined. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, proto: Proto): void {
    socket.on('error', () => socket.destroy());
    const rawHost = req.headers.host;
    const host = hostOf(rawHost);
    const url = req.url ?? '';
    const routing = routingTarget(url);
    const route = host && routing && url.startsWith('/') ? this.state.table.match(host, routing.key) : undefined;
    const start = performance.now();
    const logUpgrade = (status: number, upstream?: string, error?: string) =>
      this.state.log?.({
        time: new Date().toISOString(),
        remote: clientAddress(req),
        proto: proto === 'https' ? 'https/1.1' : 'http/1.1',
        method: req.method ?? '',
        host: rawHost ?? '',
        path: url,
        status,
        bytes: 0,
        ms: Math.round((performance.now() - start) * 10) / 10,
        route: route?.label,
        upstream,
        ...(error ? { error } : {}),
      });
    const refuse = (status: number, text: string, extra = '', upstream?: string, error?: string) => {
      logUpgrade(status, upstream, error);
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text) + 1}\r\n${extra}\r\n${text}\n`);
    };
    if (!routing) return refuse(400, AMBIGUOUS_PATH);
    if (!route || !rawHost) return refuse(proto === 'https' ? 421 : 404, `Homeport does not serve ${host ?? 'this name'}.`);
    const path = routePath(route, routing.forward);
    if (path === undefined) return refuse(400, AMBIGUOUS_PATH);
    if (proto === 'http' && route.config.redirectHttp) return refuse(403, 'Use https:// for this site.');
    if (String(req.headers.upgrade).toLowerCase() === 'h2c') return refuse(400, 'h2c upgrades are not supported.');
    const clientIp = clientAddress(req);
    if (route.allow && !route.allow.check(clientIp, isIP(clientIp) === 6 ? 'ipv6' : 'ipv4')) {
      return refuse(403, `${route.label} only accepts visitors from its allowed networks.`);
    }
    const info: ForwardInfo = { clientIp, proto, host: rawHost, upstreamHost: route.config.hostRewrite ?? rawHost, path };
    const go = () => {
      const target = route.pool.pick();
      if (!target) return refuse(502, `${route.label} has no upstream.`);
      const headers = upstreamRequestHeaders(req.headers, info, true);
      const upReq = this.request(target, req.method ?? 'GET', target.upstream.basePath + info.path, headers);
      const settle = this.awaitUpgrade(upReq, socket);
      upReq.on('upgrade', (upRes, upSocket, upHead) => {
        if (!settle()) return void upSocket.destroy();
        let headLines = `HTTP/1.1 101 Switching Protocols\r\n`;
        for (let i = 0; i < upRes.rawHeaders.length; i += 2) headLines += `${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}\r\n`;
        socket.write(headLines + '\r\n');
        if (upHead.length) socket.write(upHead);
        if (head.length) upSocket.write(head);
        route.counters.requests++;
        logUpgrade(101, target.upstream.url);
        this.joinTunnel(socket, upSocket, route.counters);
      });
      upReq.on('response', (upRes) => {
        settle();
        logUpgrade(upRes.statusCode ?? 0, target.upstream.url);
        let headLines = `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}\r\nconnection: close\r\n`;
        const out = clientResponseHeaders(upRes.headers);
        for (const [k, v] of Object.entries(out)) for (const one of ([] as unknown[]).concat(v)) headLines += `${k}: ${String(one)}\r\n`;
        socket.write(headLines + '\r\n');
        upRes.pipe(socket);
      });
      upReq.on('error', (e: NodeJS.ErrnoException) => {
        if (CONNECT_ERRORS.has(e.code ?? '')) route.pool.markFailed(target);
        if (socket.destroyed) return logUpgrade(0, target.upstream.url, `${target.upstream.url}: ${e.message}`);
        refuse(502, `Homeport could not reach the service behind ${route.label}: ${describeUpstreamError(e)}.`, '', target.upstream.url, `${target.upstream.url}: ${e.message}`);
      });
      upReq.end();
    };
    if (!route.auth) return go();
    route.auth.check(req.headers.authorization).then(
      (user) => {
        // The visitor left during the password check: nothing to answer or forward.
        if (socket.destroyed) return logUpgrade(0);
        if (user === undefined) return refuse(401, `${route.label} needs a user name and password.`, `www-authenticate: ${route.auth!.challenge}\r\n`);
        delete req.headers.authorization;
        go();
      },
      () => refuse(500, 'The password check failed.'),
    );
  }

  /**
   * Until the upstream answers an upgrade, a visitor who leaves cancels the upstream request,
   * and an upstream that does not answer within the head timeout is given up. The returned
   * function ends that watch once the answer came; false means the visitor is already gone.
   */
  private awaitUpgrade(upReq: http.ClientRequest, client: Duplex): () => boolean {
    const cancel = () => upReq.destroy();
    client.once('close', cancel);
    const ms = this.state.settings.headersTimeoutMs;
    upReq.setTimeout(ms, () => upReq.destroy(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'UPSTREAM_ANSWER_TIMEOUT' })));
    return () => {
      client.off('close', cancel);
      upReq.setTimeout(0);
      return !client.destroyed;
    };
  }

  /**
   * Joins an upgraded client connection (WebSocket over HTTP/1.1, or an HTTP/2 extended CONNECT
   * stream) to its upstream socket: bytes flow both ways until either side closes or fails, which
   * closes the other, and the route counts it as open meanwhile. A side that stops sending
   * (FIN) has that passed on, as the pipe ends the other side.
   */
  private joinTunnel(client: Duplex, upstream: Duplex, counters: { openUpgrades: number }): void {
    counters.openUpgrades++;
    this.tunnels.add(client);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', close);
    upstream.once('close', close);
    client.on('error', close);
    upstream.on('error', close);
    upstream.once('close', () => counters.openUpgrades--);
    client.once('close', () => this.tunnels.delete(client));
  }

  /** Whether an HTTP/2 session has a WebSocket tunnel open on one of its streams. */
  carriesTunnel(session: Http2Session): boolean {
    for (const t of this.tunnels) if ((t as Partial<Http2Stream>).session === session) return true;
    return false;
  }

  /** Closes every WebSocket tunnel: they never finish on their own, so a drain does not wait for them. */
  closeTunnels(): void {
    for (const t of this.tunnels) t.destroy();
  }

  private reject(req: Req, res: Res, proto: Proto, start: number, status: number, title: string, text: string, route?: CompiledRoute, extra?: Record<string, string>): void {
    this.track(req, res, proto, start, route);
    sendPage(res, status, title, text, extra);
  }

  /** Counts and logs the request once its response is over (sent in full, or cut off: status 0). */
  private track(req: Req, res: Res, proto: Proto, start: number, route: CompiledRoute | undefined): Meter {
    const meter: Meter = { bytesIn: 0, bytesOut: 0, upstream: undefined };
    res.once('close', () => this.done(req, res, proto, start, route, meter));
    return meter;
  }

  private done(req: Req, res: Res, proto: Proto, start: number, route: CompiledRoute | undefined, meter: Meter): void {
    const ms = performance.now() - start;
    const status = res.writableFinished ? res.statusCode : 0;
    route?.counters.record(ms, status, meter.bytesIn, meter.bytesOut);
    const log = this.state.log;
    if (!log) return;
    log({
      time: new Date().toISOString(),
      remote: clientAddress(req),
      proto: req.httpVersionMajor === 2 ? 'h2' : proto === 'https' ? 'https/1.1' : 'http/1.1',
      method: req.method ?? '',
      host: (req.headers.host ?? req.headers[':authority'] ?? '') as string,
      path: req.url ?? '',
      status,
      bytes: meter.bytesOut,
      ms: Math.round(ms * 10) / 10,
      route: route?.label,
      upstream: meter.upstream,
      ...(meter.error ? { error: meter.error } : {}),
    });
  }
}

interface Meter {
  bytesIn: number;
  bytesOut: number;
  upstream: string | undefined;
  /** What went wrong upstream, in full, for the access log (the page gets the gist). */
  error?: string;
  /** The response's Content-Length, when it has one. */
  declared?: number;
  retriedReset?: boolean;
}

/**
 * The request body for undici, counted as it goes. An iterator that leaves the request
 * alive: undici destroys a stream body when done, which for HTTP/2 would end the response.
 */
async function* requestBody(req: Req, meter: Meter): AsyncGenerator<Buffer> {
  for await (const chunk of (req as NodeJS.ReadableStream & { iterator(o: { destroyOnReturn: boolean }): AsyncIterable<Buffer> }).iterator({ destroyOnReturn: false })) {
    meter.bytesIn += chunk.length;
    yield chunk;
  }
}

/** undici's raw header list as node:http would present it (set-cookie a list, repeats joined). */
function headersFromRaw(raw: Buffer[] | string[] | null): http.IncomingHttpHeaders {
  const out: http.IncomingHttpHeaders = {};
  if (!raw) return out;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const had = out[name];
    if (name === 'set-cookie') {
      if (had) (had as string[]).push(value);
      else out[name] = [value];
    } else {
      out[name] = had === undefined ? value : `${had as string}, ${value}`;
    }
  }
  return out;
}

/** undici's error codes in the terms of node:net, which the health and retry rules use. */
function upstreamErrorCode(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'UPSTREAM_CONNECT_TIMEOUT';
    case 'UND_ERR_SOCKET':
      return 'ECONNRESET';
    default:
      return e.code ?? '';
  }
}

/**
 * The upstream's 103 as Node sends one: a list of single links (it refuses a joined list),
 * each Link line split where a new `<…>` starts. Never to HTTP/1.0, which has no 1xx
 * answers (RFC 9110 §15.2).
 */
function passEarlyHints(req: Req, res: Res, raw: Buffer[] | string[] | null): void {
  if (res.headersSent || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)) return;
  const link: string[] = [];
  for (let i = 0; raw && i < raw.length; i += 2) {
    if (raw[i]!.toString().toLowerCase() !== 'link') continue;
    for (const one of raw[i + 1]!.toString('latin1').split(/,(?=\s*<)/)) if (one.trim()) link.push(one.trim());
  }
  if (link.length === 0) return;
  try {
    res.writeEarlyHints({ link });
  } catch {
    // A client that cannot take them simply loads the assets later.
  }
}

function badGateway(res: Res, route: CompiledRoute, why: string, meter?: Meter, detail?: string): void {
  if (meter && detail) meter.error = detail;
  sendPage(
    res,
    502,
    'Service unreachable',
    `Homeport could not reach the service behind ${route.label}: ${why}. Check that the service is running and that the route's upstream address is right.`,
  );
}

/** No body follows the head: HTTP/1.1 framing headers say so, or HTTP/2 ended the stream. */
function hasNoBody(req: Req): boolean {
  if (req.httpVersionMajor === 2) return (req as Http2ServerRequest).stream.endAfterHeaders;
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0');
}
