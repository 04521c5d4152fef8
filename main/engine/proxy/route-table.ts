import { BlockList } from 'node:net';
import type { RouteConfig } from '../config/routes';
import { addCidr } from './addresses';
import type { Clock } from '../clock';
import { BasicAuth } from './basic-auth';
import { RouteCounters } from './stats';
import { AgentCache, UpstreamPool, agentKey } from './upstream-pool';

/** A route made ready to serve: parsed once at load, looked up on every request. */
export interface CompiledRoute {
  config: RouteConfig;
  /** `host` or `host/prefix`: how logs, counters and error pages name the route. */
  label: string;
  pool: UpstreamPool;
  allow?: BlockList;
  auth?: BasicAuth;
  hsts?: string;
  counters: RouteCounters;
}

function hstsHeader(hsts: RouteConfig['hsts']): string | undefined {
  if (hsts === false) return undefined;
  const h = hsts === true ? { maxAge: 31_536_000, includeSubDomains: false, preload: false } : hsts;
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

/** `/a` matches `/a`, `/a/…` and `/a?…`, not `/ab`. */
function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  const c = path.charCodeAt(prefix.length);
  return Number.isNaN(c) || c === 47 /* / */ || c === 63 /* ? */;
}

export class RouteTable {
  private readonly byHost = new Map<string, CompiledRoute[]>();
  readonly routes: CompiledRoute[];

  constructor(
    configs: RouteConfig[],
    agents: AgentCache,
    clock: Clock,
    failTimeoutMs: number,
    /** Counters survive a reload for routes that stay. */
    previous?: RouteTable,
  ) {
    const keep = new Set<string>();
    this.routes = configs.map((config) => {
      const label = config.pathPrefix && config.pathPrefix !== '/' ? `${config.host}${config.pathPrefix}` : config.host;
      let allow: BlockList | undefined;
      if (config.allow?.length) {
        allow = new BlockList();
        for (const c of config.allow) addCidr(allow, c);
      }
      for (const u of config.upstreams) keep.add(agentKey(u, config.trustSelfSigned));
      return {
        config,
        label,
        pool: new UpstreamPool(config.upstreams, config.trustSelfSigned, agents, clock, failTimeoutMs),
        allow,
        auth: config.basicAuth ? new BasicAuth(config.basicAuth) : undefined,
        hsts: hstsHeader(config.hsts),
        counters: previous?.routes.find((r) => r.label === label)?.counters ?? new RouteCounters(label),
      };
    });
    agents.retain(keep);
    for (const r of this.routes) {
      const list = this.byHost.get(r.config.host) ?? [];
      list.push(r);
      this.byHost.set(r.config.host, list);
    }
    // Longest prefix first, so /app/admin wins over /app over the whole host.
    for (const list of this.byHost.values()) {
      list.sort((a, b) => (b.config.pathPrefix ?? '').length - (a.config.pathPrefix ?? '').length);
    }
  }

  /** `host` is lower-case without port; exact host before `*.parent`. */
  match(host: string, path: string): CompiledRoute | undefined {
    const list = this.byHost.get(host) ?? this.wildcard(host);
    if (!list) return undefined;
    for (const r of list) if (!r.config.pathPrefix || underPrefix(path, r.config.pathPrefix)) return r;
    return undefined;
  }

  private wildcard(host: string): CompiledRoute[] | undefined {
    const dot = host.indexOf('.');
    return dot > 0 ? this.byHost.get(`*${host.slice(dot)}`) : undefined;
  }
}

/** The Host header without port, lower-case; undefined when it is not a plausible name. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let h = header;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    h = h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon >= 0) h = h.slice(0, colon);
  }
  h = h.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  return /^[a-z0-9.*_-]+$|^\[[0-9a-f:.]+\]$/.test(h) ? h : undefined;
}
