import { BlockList } from 'node:net';
import type { RouteConfig } from '../config/routes';
import { addCidr } from './addresses';
import type { Clock } from '../clock';
import { BasicAuth } from './basic-auth';
import { prefixKey, stripPrefix } from './request-path';
import { RouteCounters } from './stats';
import { AgentCache, UpstreamPool, agentKey } from './upstream-pool';

/** A route made ready to serve: parsed once at load, looked up on every request. */
export interface CompiledRoute {
  config: RouteConfig;
  /** `host` or `host/prefix`: how logs, counters and error pages name the route. */
  label: string;
  /** The path prefix as routing compares it (a key of routingTarget); none for `/`. */
  prefix?: string;
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

function routingPrefix(pathPrefix: string | undefined): string | undefined {
  const key = prefixKey(pathPrefix);
  return key !== '/' ? key : undefined;
}

/** `/a` matches `/a`, `/a/…` and `/a?…`, not `/ab`. */
function underPrefix(path: string, prefix: string): boolean {
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
        prefix: routingPrefix(config.pathPrefix),
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
      list.sort((a, b) => (b.prefix ?? '').length - (a.prefix ?? '').length);
    }
  }

  /** `host` is lower-case without port, `key` routingTarget's; exact host before `*.parent`. */
  match(host: string, key: string): CompiledRoute | undefined {
    const list = this.byHost.get(host) ?? this.wildcard(host);
    if (!list) return undefined;
    for (const r of list) if (!r.prefix || underPrefix(key, r.prefix)) return r;
    return undefined;
  }

  private wildcard(host: string): CompiledRoute[] | undefined {
    const dot = host.indexOf('.');
    return dot > 0 ? this.byHost.get(`*${host.slice(dot)}`) : undefined;
  }
}

/**
 * The path `route` sends upstream, before the upstream's base path: `forward`, less the prefix
 * when the route strips it; undefined when the prefix cannot be told apart (see stripPrefix).
 */
export function routePath(route: CompiledRoute, forward: string): string | undefined {
  return route.config.stripPrefix && route.prefix ? stripPrefix(forward, route.prefix) : forward;
}

/**
 * The Host header without port, lower-case; undefined unless it is `name`, `[v6]`, either with
 * a `:port`. The header goes upstream as sent (Host, X-Forwarded-Host, Forwarded), so nothing
 * else may follow the name: `a.test:@evil.com` would reach a.test, which builds its links from it.
 */
export function hostOf(header: string | undefined): string | undefined {
  const m = header ? /^([a-z0-9.*_-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i.exec(header) : null;
  return m?.[1].toLowerCase().replace(/\.$/, '') || undefined;
}
