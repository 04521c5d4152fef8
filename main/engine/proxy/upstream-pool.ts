import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { Pool as UndiciPool } from 'undici';
import { parseUpstream, type Upstream } from './addresses';
import type { Clock } from '../clock';

/** One upstream address with its keep-alive connections and its passive health. */
export interface UpstreamTarget {
  upstream: Upstream;
  /** Requests go through undici (about a third less CPU per request than http.Agent). */
  dispatcher: Pool;
  /** WebSocket upgrades go through node:http, which hands over the raw socket. */
  agent: http.Agent;
  /** Skipped by `pick` until this time (ms since epoch) after a failure. */
  downUntil: number;
  /** Consecutive failures; reset by a success. */
  failures: number;
}

// undici's index also loads fetch, WebSocket and caches (about 6 MB more in every proxy
// process); the proxy needs only its connection pool.
const Pool: typeof UndiciPool = require('undici/lib/dispatcher/pool');
type Pool = UndiciPool;

interface Clients {
  dispatcher: Pool;
  agent: http.Agent;
}

/**
 * Keep-alive connections by upstream, reused across route reloads so a config change does
 * not throw away warm connections.
 */
export class AgentCache {
  private readonly agents = new Map<string, Clients>();
  private readonly retired = new Set<http.Agent>();

  constructor(private readonly connectTimeoutMs: number) {}

  get(upstream: Upstream, trustSelfSigned: boolean): Clients {
    const key = agentKey(upstream.url, trustSelfSigned);
    let clients = this.agents.get(key);
    if (!clients) {
      const opts: https.AgentOptions = {
        keepAlive: true,
        keepAliveMsecs: 30_000,
        maxFreeSockets: 512,
        // Newest idle socket first: the ones left idle longest are the likeliest to have
        // been closed by the upstream, and they time out and go away on their own.
        scheduling: 'lifo',
        timeout: 60_000,
      };
      const agent =
        upstream.kind === 'https'
          ? new https.Agent({ ...opts, rejectUnauthorized: !trustSelfSigned })
          : new http.Agent(opts);
      clients = { agent, dispatcher: pool(upstream, trustSelfSigned, this.connectTimeoutMs) };
      this.agents.set(key, clients);
    }
    return clients;
  }

  /**
   * Drops agents no route uses any more. Their idle connections close now; connections
   * still carrying a request finish it and then time out, so a route reload drops nothing.
   */
  retain(keys: Set<string>): void {
    for (const [key, { agent, dispatcher }] of this.agents) {
      if (keys.has(key)) continue;
      this.agents.delete(key);
      this.retired.add(agent);
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      // Closes once the requests it carries are done.
      void dispatcher.close().catch(() => {});
    }
  }

  destroy(): void {
    for (const { agent, dispatcher } of this.agents.values()) {
      agent.destroy();
      void dispatcher.destroy().catch(() => {});
    }
    for (const agent of this.retired) agent.destroy();
    this.agents.clear();
    this.retired.clear();
  }
}

function pool(upstream: Upstream, trustSelfSigned: boolean, connectTimeoutMs: number): Pool {
  const opts: UndiciPool.Options = {
    connectTimeout: connectTimeoutMs,
    // No deadline on an upstream's answer or body: server-sent events and long polls stay
    // quiet for minutes (node:http had none either).
    headersTimeout: 0,
    bodyTimeout: 0,
  };
  if (upstream.kind === 'unix') return new Pool('http://localhost', { ...opts, socketPath: upstream.socketPath });
  const origin = `${upstream.kind}://${isIP(upstream.host) === 6 ? `[${upstream.host}]` : upstream.host}:${upstream.port}`;
  if (upstream.kind === 'https') return new Pool(origin, { ...opts, connect: { rejectUnauthorized: !trustSelfSigned } });
  return new Pool(origin, opts);
}

export function agentKey(url: string, trustSelfSigned: boolean): string {
  return `${url}|${trustSelfSigned}`;
}

/** Round robin over a route's upstreams, skipping those that failed recently. */
export class UpstreamPool {
  readonly targets: UpstreamTarget[];
  private next = 0;

  constructor(
    urls: string[],
    trustSelfSigned: boolean,
    agents: AgentCache,
    private readonly clock: Clock,
    private readonly failTimeoutMs: number,
  ) {
    this.targets = urls.map((url) => {
      const upstream = parseUpstream(url);
      return { upstream, ...agents.get(upstream, trustSelfSigned), downUntil: 0, failures: 0 };
    });
  }

  /**
   * The next healthy upstream not in `exclude`; when all are marked down, the one that
   * comes back soonest (a request is better spent trying than refused outright).
   */
  pick(exclude?: ReadonlySet<UpstreamTarget>): UpstreamTarget | undefined {
    const n = this.targets.length;
    const now = this.clock.now();
    let fallback: UpstreamTarget | undefined;
    for (let i = 0; i < n; i++) {
      const t = this.targets[(this.next + i) % n]!;
      if (exclude?.has(t)) continue;
      if (t.downUntil <= now) {
        this.next = (this.next + i + 1) % n;
        return t;
      }
      if (!fallback || t.downUntil < fallback.downUntil) fallback = t;
    }
    return fallback;
  }

  markFailed(t: UpstreamTarget): void {
    t.failures++;
    t.downUntil = this.clock.now() + this.failTimeoutMs;
  }

  markOk(t: UpstreamTarget): void {
    if (t.failures !== 0) {
      t.failures = 0;
      t.downUntil = 0;
    }
  }
}
