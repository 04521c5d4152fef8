import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ApiHost } from './api/dispatch';
import { CONTENT_SECURITY_POLICY, resolveUiFile } from './api/ui-files';

/**
 * The same engine and UI without Electron: an HTTP server on loopback only. Anyone on this
 * machine can reach a loopback port, and any web page can make the browser try, so every
 * request must carry a random token (the URL printed once sets it as a cookie), the Host
 * header must name loopback (DNS rebinding), and state-changing calls must be same-origin
 * JSON POSTs.
 *
 * Cookies ignore ports (RFC 6265 §8.5): a cookie for 127.0.0.1 with Path=/ would be sent to
 * every other server on 127.0.0.1 the user visits, and a second Homeport's would overwrite it.
 * So the UI lives under a random path made for this run, which only the printed link tells,
 * the cookie is scoped to that path, and its name carries the port.
 */
export interface HeadlessOptions {
  api: ApiHost;
  /** 0 (default) lets the OS pick a free port. */
  port?: number;
  /** 127.0.0.1 (default) or ::1; anything else is refused. */
  host?: '127.0.0.1' | '::1';
  /** For tests; otherwise 32 random bytes. */
  token?: string;
}

export interface HeadlessHost {
  /** Open this once: it carries the token and sets the cookie. */
  url: string;
  origin: string;
  /** Where the UI lives: the origin and this run's random path, ending in "/" (no token). */
  base: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const COOKIE_PREFIX = 'homeport_token_';
const MAX_BODY = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=()',
};

export async function startHeadlessHost(opts: HeadlessOptions): Promise<HeadlessHost> {
  const host = opts.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1') {
    throw new Error(`The headless host only listens on loopback (127.0.0.1 or ::1), not ${String(host)}.`);
  }
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const basePath = `/${randomBytes(16).toString('base64url')}/`;
  const streams = new Set<http.ServerResponse>();
  let port = 0;

  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const ownOrigins = () => new Set([...allowedHosts()].map((h) => `http://${h}`));

  const tokenMatches = (candidate: string | undefined): boolean => {
    if (!candidate) return false;
    const b = Buffer.from(candidate);
    return b.length === tokenBytes.length && timingSafeEqual(b, tokenBytes);
  };

  const presentedToken = (req: http.IncomingMessage, cookie: string): string | undefined => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
    const header = req.headers['x-homeport-token'];
    if (typeof header === 'string') return header;
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === cookie) return v.join('=');
    }
    return undefined;
  };

  const send = (res: http.ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    // DNS rebinding: a hostile page can point its own name at 127.0.0.1, but cannot make the
    // browser send a loopback Host header for it.
    if (!allowedHosts().has((req.headers.host ?? '').toLowerCase())) {
      return send(res, 421, 'This Homeport address only answers to 127.0.0.1, localhost or [::1].\n');
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (!url.pathname.startsWith(basePath)) return send(res, 404, notHereText);
    const pathname = url.pathname.slice(basePath.length - 1);
    const cookie = `${COOKIE_PREFIX}${port}`;

    // The printed link: trade the token in the query for a cookie, then drop it from the address bar.
    const queryToken = url.searchParams.get('token');
    if (req.method === 'GET' && pathname === '/' && queryToken !== null) {
      if (!tokenMatches(queryToken)) return send(res, 401, unauthorizedText);
      return send(res, 303, '', 'text/plain; charset=utf-8', {
        Location: basePath,
        'Set-Cookie': `${cookie}=${token}; Path=${basePath}; HttpOnly; SameSite=Strict`,
      });
    }
    if (!tokenMatches(presentedToken(req, cookie))) return send(res, 401, unauthorizedText);

    if (pathname === '/api/events') {
      if (req.method !== 'GET') return send(res, 405, 'Use GET.\n', undefined, { Allow: 'GET' });
      return openEventStream(res);
    }
    if (pathname.startsWith('/api/')) {
      if (req.method !== 'POST') return send(res, 405, 'Use POST.\n', undefined, { Allow: 'POST' });
      // A cross-site page cannot send this content type without a CORS preflight, which we never grant.
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return send(res, 415, 'Send application/json.\n');
      }
      const origin = req.headers.origin;
      if (origin !== undefined && !ownOrigins().has(origin)) return send(res, 403, 'Cross-origin requests are refused.\n');
      const method = pathname.slice('/api/'.length);
      if (!opts.api.methods.includes(method as never)) return send(res, 404, `There is no API method "${method}".\n`);
      let input: unknown;
      try {
        const raw = await readBody(req);
        input = raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'));
      } catch (e) {
        // The rest of an oversized body is not read: close the connection instead of reusing it.
        return send(res, 400, JSON.stringify({ ok: false, error: { code: 'api.bad-request', message: (e as Error).message } }), 'application/json', { Connection: 'close' });
      }
      const result = await opts.api.call(method, input);
      return send(res, 200, JSON.stringify(result), 'application/json');
    }

    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Use GET.\n', undefined, { Allow: 'GET, HEAD' });
    const file = resolveUiFile(pathname);
    if (!file) return send(res, 404, 'Not found.\n');
    let body: Buffer;
    try {
      body = await fs.readFile(file.file);
    } catch {
      return send(res, 404, 'Not found (was the UI built? run npm run build).\n');
    }
    return send(res, 200, body, file.mime);
  };

  const openEventStream = (res: http.ServerResponse) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': connected\n\n');
    streams.add(res);
    const unsubscribe = opts.api.onEvent((event) => {
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    });
    const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    beat.unref();
    res.on('close', () => {
      clearInterval(beat);
      unsubscribe();
      streams.delete(res);
    });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `Homeport could not answer: ${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const origin = host === '::1' ? `http://[::1]:${port}` : `http://127.0.0.1:${port}`;

  const base = `${origin}${basePath}`;

  return {
    url: `${base}?token=${token}`,
    origin,
    base,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

const unauthorizedText =
  'Homeport needs its access token. Open the link Homeport printed when it started (it contains ?token=…).\n';
const notHereText = 'Nothing here. Open the link Homeport printed when it started: the app lives at that address.\n';

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('The request body is larger than 1 MB.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * `npm start` without Electron: the engine and UI on 127.0.0.1. The URL with the token is
 * printed once; whoever can read this terminal can use the UI.
 */
export async function runHeadless(): Promise<void> {
  const [{ defaultDataDir }, { filePrefsStore }, { openRuntime }] = await Promise.all([
    import('./cli/options.js'),
    import('./api/prefs.js'),
    import('./api/runtime.js'),
  ]);
  const dataDir = process.env.HOMEPORT_DATA_DIR ?? defaultDataDir();
  const port = process.env.HOMEPORT_UI_PORT ? Number(process.env.HOMEPORT_UI_PORT) : 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    const { HomeportError } = await import('./engine/errors.js');
    throw new HomeportError('ui.bad-port', `HOMEPORT_UI_PORT="${process.env.HOMEPORT_UI_PORT}" is not a port number.`, {
      fix: 'Set it to a whole number from 1 to 65535, or unset it to let Homeport pick a free port.',
    });
  }
  const runtime = await openRuntime({ dataDir, host: 'headless', prefs: filePrefsStore(dataDir), serve: true });
  const host = await startHeadlessHost({ api: runtime.api, port });
  process.stdout.write(
    `Homeport is running without Electron (its binary is not installed here).\n` +
      `Open the app in your browser:\n\n  ${host.url}\n\n` +
      `The link carries a private access token: do not share it. Data: ${dataDir}. Stop with Ctrl+C.\n`,
  );
  const stop = async () => {
    await host.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
