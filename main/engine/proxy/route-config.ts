import { HomeportError } from '../errors';
import { loadConfig, updateConfig } from '../config/file';
import { RouteSchema, describeIssues, normalizeHost, type RouteConfig, type RouteInput } from '../config/routes';
import { hashPassword } from './basic-auth';
import { prefixKey } from './request-path';

/** What `homeport route add` asks for, before passwords are hashed. */
export interface RouteRequest {
  host: string;
  upstreams: string[];
  pathPrefix?: string;
  stripPrefix?: boolean;
  trustSelfSigned?: boolean;
  redirectHttp?: boolean;
  hostRewrite?: string;
  hsts?: boolean;
  /** `user:password` pairs; stored as scrypt hashes. */
  auth?: string[];
  realm?: string;
  allow?: string[];
}

/** The same requests reach both (see RoutesSchema), so adding one replaces the other. */
function sameRoute(a: { host: string; pathPrefix?: string }, host: string, pathPrefix: string | undefined): boolean {
  return a.host === host && prefixKey(a.pathPrefix) === prefixKey(pathPrefix);
}

/**
 * Validates, hashes passwords, and adds or replaces the route for the same host and path.
 * With `keepOptions`, a route that exists keeps everything but its upstreams: a form that
 * only asks for an address must not drop the sign-in or allow-list set up elsewhere.
 */
export async function addRoute(dataDir: string, req: RouteRequest, opts: { keepOptions?: boolean } = {}): Promise<{ route: RouteConfig; replaced: boolean }> {
  let basicAuth: RouteInput['basicAuth'];
  if (req.auth?.length) {
    const users = [];
    for (const pair of req.auth) {
      const colon = pair.indexOf(':');
      if (colon <= 0 || colon === pair.length - 1) {
        throw new HomeportError('route.invalid-auth', `"${pair.replace(/:.*/, ':…')}" is not user:password.`, {
          fix: 'Write --auth as user:password, e.g. --auth ann:correct-horse.',
        });
      }
      users.push({ name: pair.slice(0, colon), hash: await hashPassword(pair.slice(colon + 1)) });
    }
    basicAuth = { realm: req.realm ?? 'Homeport', users };
  }
  const parsed = RouteSchema.safeParse({
    host: req.host,
    upstreams: req.upstreams,
    pathPrefix: req.pathPrefix,
    stripPrefix: req.stripPrefix ?? false,
    trustSelfSigned: req.trustSelfSigned ?? false,
    redirectHttp: req.redirectHttp ?? true,
    hostRewrite: req.hostRewrite,
    hsts: req.hsts ?? false,
    basicAuth,
    allow: req.allow?.length ? req.allow : undefined,
  });
  if (!parsed.success) {
    throw new HomeportError('route.invalid', `The route was not saved: ${describeIssues(parsed.error)}.`, {
      fix: 'Correct the value named above and run the command again.',
    });
  }
  let route = parsed.data;
  let replaced = false;
  await updateConfig(dataDir, (config) => {
    const existing = config.routes.find((r) => sameRoute(r, route.host, route.pathPrefix));
    if (existing && opts.keepOptions) route = { ...existing, upstreams: route.upstreams };
    replaced = existing !== undefined;
    return { ...config, routes: [...config.routes.filter((r) => r !== existing), route] };
  });
  return { route, replaced };
}

export async function listRoutes(dataDir: string): Promise<RouteConfig[]> {
  return (await loadConfig(dataDir)).routes;
}

/** Removes every route of `host`, or only the one under `pathPrefix`. */
export async function removeRoute(dataDir: string, host: string, pathPrefix?: string): Promise<RouteConfig[]> {
  const name = normalizeHost(host);
  const prefix = pathPrefix && pathPrefix.length > 1 ? pathPrefix.replace(/\/+$/, '') : pathPrefix;
  let removed: RouteConfig[] = [];
  await updateConfig(dataDir, (config) => {
    removed = config.routes.filter((r) => (prefix === undefined ? r.host === name : sameRoute(r, name, prefix)));
    if (removed.length === 0) {
      const known = config.routes.map((r) => `${r.host}${r.pathPrefix ?? ''}`).join(', ') || 'none';
      throw new HomeportError('route.not-found', `There is no route for ${name}${prefix ?? ''}.`, {
        fix: `Check the name with "homeport route list" (routes: ${known}).`,
      });
    }
    return { ...config, routes: config.routes.filter((r) => !removed.includes(r)) };
  });
  return removed;
}

/** One line per route for `homeport route list`. */
export function describeRoute(r: RouteConfig): string {
  const extras = [
    r.stripPrefix && 'strip prefix',
    r.trustSelfSigned && 'trusts self-signed',
    !r.redirectHttp && 'also on http',
    r.hostRewrite && `Host: ${r.hostRewrite}`,
    r.hsts && 'HSTS',
    r.basicAuth && `sign-in (${r.basicAuth.users.map((u) => u.name).join(', ')})`,
    r.allow?.length && `only ${r.allow.join(', ')}`,
  ].filter(Boolean);
  return `${r.host}${r.pathPrefix ?? ''} → ${r.upstreams.join(', ')}${extras.length ? `  [${extras.join('; ')}]` : ''}`;
}
