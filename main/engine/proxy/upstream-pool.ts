import * as http from 'node:http';
import * as https from 'node:https';
import { parseUpstream, type Upstream } from './addresses';
import type { Clock } from '../clock';

/** One upstream address with its keep-alive connections and its passive health. */
export interface UpstreamTarget {
  upstream: Upstream;
  agent: http.Agent;
  /** Skipped by `pick` until this time (ms since epoch) after a failure. */
  downUntil: number;
  /** Consecutive failures; reset by a success. */
  failures: number;
}

/**
 * Keep-alive agents by upstream, reused across route reloads so a config change does not
 * throw away warm connections.
 */
export class AgentCache {
  private readonly agents = new Map<string, http.Agent>();
  private readonly retired = new Set<http.Agent>();

  get(upstream: Upstream, trustSelfSigned: boolean): http.Agent {
    const key = agentKey(upstream.url, trustSelfSigned);
    let agent = this.agents.get(key);
    if (!agent) {
      const opts: https.AgentOptions = {
        keepAlive: true,
        keepAliveMsecs: 30_000,
        maxFreeSockets: 512,
        // Newest idle socket first: the ones left idle longest are the likeliest to have
        // been closed by the upstream, and they time out and go away on their own.
        scheduling: 'lifo',
        timeout: 60_000,
      };
      agent =
        upstream.kind === 'https'
          ? new https.Agent({ ...opts, rejectUnauthorized: !trustSelfSigned })
          : new http.Agent(opts);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Drops agents no route uses any more. Their idle connections close now; connections
   * still carrying a request finish it and then time out, so a route reload drops nothing.
   */
  retain(keys: Set<string>): void {
    for (const [key, agent] of this.agents) {
      if (keys.has(key)) continue;
      this.agents.delete(key);
      this.retired.add(agent);
      for (const sockets of Object.values(agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
    }
  }

  destroy(): void {
    for (const agent of [...this.agents.values(), ...this.retired]) agent.destroy();
    this.agents.clear();
    this.retired.clear();
  }
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
      return { upstream, agent: agents.get(upstream, trustSelfSigned), downUntil: 0, failures: 0 };
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
