import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The few Cloudflare API v4 endpoints the provider uses, on loopback: Cloudflare is the
 * public internet, the one thing these tests may stand in for. Answers follow the API's
 * envelope ({success, errors[{code, message, error_chain}], result}) and its error codes.
 */
export interface FakeToken {
  /** Zone ids the token can see (Zone → Zone → Read). */
  read: string[];
  /** Zone ids whose DNS records the token may change (Zone → DNS → Edit). */
  edit: string[];
}

export interface FakeRecord {
  id: string;
  zone_id: string;
  type: string;
  name: string;
  content: string;
  ttl: number;
  proxied: boolean;
}

export interface FakeCloudflare {
  baseUrl: string;
  zones: Map<string, string>;
  records: FakeRecord[];
  /** Method and path (with query) of every request, in order. */
  requests: string[];
  /** Answer every request with this HTTP status and code until cleared (outages, rate limits). */
  failWith?: { status: number; code: number; message: string };
  stop(): Promise<void>;
}

type Reply = { status: number; body: unknown };
const ok = (result: unknown): Reply => ({ status: 200, body: { success: true, errors: [], messages: [], result } });
const fail = (status: number, code: number, message: string, chain?: { code: number; message: string }[]): Reply => ({
  status,
  body: { success: false, errors: [{ code, message, ...(chain ? { error_chain: chain } : {}) }], messages: [], result: null },
});

export async function startFakeCloudflare(zones: Record<string, string>, tokens: Record<string, FakeToken>): Promise<FakeCloudflare> {
  const state: FakeCloudflare = {
    baseUrl: '',
    zones: new Map(Object.entries(zones)),
    records: [],
    requests: [],
    stop: async () => {},
  };

  const handle = (method: string, url: URL, auth: string | undefined, body: Record<string, unknown>): Reply => {
    if (state.failWith) return fail(state.failWith.status, state.failWith.code, state.failWith.message);
    const bearer = /^Bearer ([A-Za-z0-9_-]+)$/.exec(auth ?? '');
    if (!bearer) return fail(400, 6003, 'Invalid request headers', [{ code: 6111, message: 'Invalid format for Authorization header' }]);
    const token = tokens[bearer[1]!];
    if (!token) return fail(403, 9109, 'Invalid access token');

    const parts = url.pathname.replace(/^\/client\/v4/, '').split('/').filter(Boolean);
    if (method === 'GET' && parts.length === 1 && parts[0] === 'zones') {
      const name = url.searchParams.get('name');
      const visible = [...state.zones].filter(([id, zname]) => token.read.includes(id) && (name === null || name === zname));
      return ok(visible.map(([id, zname]) => ({ id, name: zname, status: 'active' })));
    }
    if (parts[0] !== 'zones' || parts[2] !== 'dns_records') return fail(404, 7000, 'No route for that URI');
    const zoneId = parts[1]!;
    const zoneName = state.zones.get(zoneId);
    if (!zoneName || !token.read.concat(token.edit).includes(zoneId)) {
      return fail(404, 7003, `Could not route to /zones/${zoneId}/dns_records, perhaps your object identifier is invalid?`);
    }
    if (method === 'GET' && parts.length === 3) {
      const type = url.searchParams.get('type');
      const name = url.searchParams.get('name');
      return ok(state.records.filter((r) => r.zone_id === zoneId && (!type || r.type === type) && (!name || r.name === name)));
    }
    if (!token.edit.includes(zoneId)) return fail(403, 10000, 'Authentication error');
    if (method === 'POST' && parts.length === 3) {
      const { type, name, content, ttl } = body as { type: string; name: string; content: string; ttl?: number };
      if (name !== zoneName && !name.endsWith(`.${zoneName}`)) return fail(400, 9007, 'Content for TXT record is invalid. Name must be in the zone.');
      if (state.records.some((r) => r.zone_id === zoneId && r.type === type && r.name === name && r.content === content)) {
        return fail(400, 81058, 'An identical record already exists.');
      }
      const record: FakeRecord = { id: randomBytes(16).toString('hex'), zone_id: zoneId, type, name, content, ttl: ttl ?? 1, proxied: false };
      state.records.push(record);
      return ok(record);
    }
    if (method === 'DELETE' && parts.length === 4) {
      const i = state.records.findIndex((r) => r.zone_id === zoneId && r.id === parts[3]);
      if (i < 0) return fail(404, 81044, 'Record does not exist.');
      state.records.splice(i, 1);
      return ok({ id: parts[3] });
    }
    return fail(405, 10405, 'Method not allowed');
  };

  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      state.requests.push(`${req.method} ${req.url}`);
      const reply = handle(req.method!, new URL(req.url!, 'http://x'), req.headers.authorization, raw ? JSON.parse(raw) : {});
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  state.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // fetch keeps connections alive
    });
  return state;
}
