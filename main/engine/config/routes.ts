import { BlockList } from 'node:net';
import { z } from 'zod';
import { addCidr, parseUpstream } from '../proxy/addresses';
import { prefixKey, routingTarget } from '../proxy/request-path';

// Proxy workers need these without zod (each worker would carry it for nothing).
export { addCidr, parseUpstream, type Upstream } from '../proxy/addresses';

/**
 * Routes and proxy settings: what the reverse proxy serves and how. Owned by the proxy;
 * the config model embeds RouteSchema (in `routes`) and ProxySettingsSchema (in `proxy`).
 * Every message says what is wrong with the value and what a good one looks like, because
 * users meet them from `homeport route add` and from a hand-edited config.json.
 */

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A DNS name (ASCII / punycode), optionally `*.` wildcard; lower-cased. */
export function normalizeHost(raw: string): string {
  return raw.trim().toLowerCase().replace(/\.$/, '');
}

function hostProblem(host: string): string | undefined {
  if (host.length > 253) return 'is longer than 253 characters';
  if (/[:/]/.test(host)) return 'must be a name only, without a scheme, port or path (e.g. "photos.example.com")';
  const labels = host.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (rest.length < 1 || rest.some((l) => !HOST_LABEL.test(l))) {
    return 'is not a valid DNS name: use letters, digits and hyphens between dots (punycode for non-ASCII names), or "*.example.com" for a wildcard';
  }
  return undefined;
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url), made by proxy/basic-auth.ts hashPassword. */
export const PASSWORD_HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/;

export const HstsSchema = z.object({
  maxAge: z.number().int().min(0).default(31_536_000),
  includeSubDomains: z.boolean().default(false),
  preload: z.boolean().default(false),
});

export const BasicAuthSchema = z.object({
  realm: z.string().min(1).max(100).regex(/^[^"\\\r\n]*$/, 'the realm may not contain quotes, backslashes or line breaks').default('Homeport'),
  users: z
    .array(
      z.object({
        name: z.string().min(1).regex(/^[^:\r\n]+$/, 'a user name may not contain ":" or line breaks'),
        hash: z.string().regex(PASSWORD_HASH, 'store the password hashed ("homeport route add … --auth user:password" does it), never in plain text'),
      }),
    )
    .min(1, 'basic auth needs at least one user'),
});

/**
 * A route: requests for `host` (optionally under `pathPrefix`) go to one of `upstreams`.
 */
export const RouteSchema = z
  .object({
    host: z
      .string()
      .min(1, 'a route needs a host name')
      .transform(normalizeHost)
      .superRefine((h, ctx) => {
        const p = hostProblem(h);
        if (p) ctx.addIssue({ code: 'custom', message: `"${h}" ${p}` });
      }),
    pathPrefix: z
      .string()
      .startsWith('/', 'a path prefix starts with "/", e.g. "/grafana"')
      .regex(/^[^?#\s]*$/, 'a path prefix may not contain "?", "#" or spaces')
      .transform((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p))
      // Routing compares the prefix as request paths are compared (request-path.ts), which these cannot be.
      .refine((p) => routingTarget(p) !== undefined, 'a path prefix may not contain %00, a malformed %-escape, or a ".." that %2F, "\\" or ";" makes')
      .optional(),
    /** Remove the prefix before passing the path upstream ("/grafana/x" → "/x"). */
    stripPrefix: z.boolean().default(false),
    upstreams: z
      .array(
        z.string().superRefine((u, ctx) => {
          try {
            parseUpstream(u);
          } catch (e) {
            ctx.addIssue({ code: 'custom', message: (e as Error).message });
          }
        }),
      )
      .min(1, 'a route needs at least one upstream, e.g. "http://127.0.0.1:8123"'),
    /** Accept a self-signed (or otherwise unverifiable) certificate from an https:// upstream. */
    trustSelfSigned: z.boolean().default(false),
    /** Plain HTTP requests are redirected to HTTPS; false serves the route on port 80 too. */
    redirectHttp: z.boolean().default(true),
    /** Host header sent upstream; by default the visitor's Host is passed through. */
    hostRewrite: z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:.]+\](:\d+)?$/, 'the rewritten Host must be a name or address with an optional :port')
      .optional(),
    hsts: z.union([z.boolean(), HstsSchema]).default(false),
    basicAuth: BasicAuthSchema.optional(),
    /** Only these addresses / CIDR ranges may use the route (e.g. the LAN); empty or absent = everyone. */
    allow: z
      .array(
        z.string().superRefine((c, ctx) => {
          try {
            addCidr(new BlockList(), c);
          } catch (e) {
            ctx.addIssue({ code: 'custom', message: (e as Error).message });
          }
        }),
      )
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.stripPrefix && !r.pathPrefix) {
      ctx.addIssue({ code: 'custom', path: ['stripPrefix'], message: 'stripPrefix needs a pathPrefix to strip' });
    }
    if (r.trustSelfSigned && !r.upstreams.some((u) => u.startsWith('https:'))) {
      ctx.addIssue({ code: 'custom', path: ['trustSelfSigned'], message: 'trustSelfSigned only applies to https:// upstreams' });
    }
  });

export type RouteConfig = z.infer<typeof RouteSchema>;
export type RouteInput = z.input<typeof RouteSchema>;

/**
 * The list of routes: one route per host + path prefix as routing compares it (request-path.ts:
 * case and escapes do not count, `/` is no prefix), or the later one would never be used.
 */
export const RoutesSchema = z.array(RouteSchema).superRefine((routes, ctx) => {
  const seen = new Map<string, string>();
  routes.forEach((r, i) => {
    const name = `${r.host}${r.pathPrefix ?? ''}`;
    const key = `${r.host}${prefixKey(r.pathPrefix)}`;
    const first = seen.get(key);
    if (first === undefined) return void seen.set(key, name);
    const same = first === name ? `two routes for ${name}` : `the routes for ${first} and ${name} take the same requests (paths are matched ignoring case, escapes and a lone "/")`;
    ctx.addIssue({ code: 'custom', path: [i, 'host'], message: `${same}: keep one` });
  });
});

/** How the listeners behave (their ports live in the config's `listeners`); every field has a safe default. */
export const ProxySettingsSchema = z.object({
  /** Addresses to listen on; the default covers IPv4 and IPv6. */
  listen: z.array(z.string()).default(['::']),
  /** A TLS handshake for a name without a certificate: refuse it, or answer with `defaultCertificate`. */
  unknownName: z.enum(['refuse', 'default-certificate']).default('refuse'),
  /** The certificate name (as stored) to use for unknown names and clients without SNI. */
  defaultCertificate: z.string().optional(),
  /** Slowloris guard: the whole request head must arrive within this time. */
  headersTimeoutMs: z.number().int().min(100).default(20_000),
  /** The whole request (head and body) must arrive within this time; 0 = no limit (large uploads). */
  requestTimeoutMs: z.number().int().min(0).default(0),
  /** A connection with no traffic at all is closed after this time. */
  idleTimeoutMs: z.number().int().min(100).default(120_000),
  keepAliveTimeoutMs: z.number().int().min(100).default(65_000),
  handshakeTimeoutMs: z.number().int().min(100).default(10_000),
  upstreamConnectTimeoutMs: z.number().int().min(100).default(5_000),
  /** An upstream that failed is skipped for this long (passive health). */
  upstreamFailTimeoutMs: z.number().int().min(0).default(10_000),
  maxHeaderSize: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
  /** Processes serving connections: the engine's, plus (N − 1) helpers accepting on its sockets. */
  workers: z.number().int().min(1).max(256).default(1),
  /** TLS session-ticket keys are replaced this often (forward secrecy of resumed sessions). */
  ticketKeyRotationMs: z.number().int().min(60_000).default(12 * 3_600_000),
  /** How often `homeport serve` re-reads the certificate store (renewals by other processes). */
  certificatePollMs: z.number().int().min(100).default(10_000),
  /** JSON-lines access log file; `homeport serve` uses <data>/logs/access.log unless this says otherwise; false = none. */
  accessLog: z.union([z.string().min(1), z.literal(false)]).optional(),
}).superRefine((s, ctx) => {
  if (s.requestTimeoutMs > 0 && s.requestTimeoutMs < s.headersTimeoutMs) {
    ctx.addIssue({ code: 'custom', path: ['requestTimeoutMs'], message: `must be 0 (no limit) or at least headersTimeoutMs (${s.headersTimeoutMs})` });
  }
  if (s.unknownName === 'default-certificate' && !s.defaultCertificate) {
    ctx.addIssue({ code: 'custom', path: ['defaultCertificate'], message: 'name the certificate to answer unknown names with, or set unknownName to "refuse"' });
  }
});

export type ProxySettings = z.infer<typeof ProxySettingsSchema>;
export type ProxySettingsInput = z.input<typeof ProxySettingsSchema>;

/** Zod issues as one plain sentence per problem, with where it is. */
export function describeIssues(error: z.ZodError, where = ''): string {
  return error.issues
    .map((i) => {
      const at = [where, ...i.path.map(String)].filter(Boolean).join('.');
      return at ? `${at}: ${i.message}` : i.message;
    })
    .join('; ');
}
