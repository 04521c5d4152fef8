import { z } from 'zod';
import { resolveCa } from '../acme/cas';
import type { HomeportError } from '../errors';
import { ProxySettingsSchema, RouteSchema } from './routes';

/**
 * The config model: what the user asked for (CAs, certificates, ports, routes). Stored as
 * <data>/config.json; the Electron app keeps the same JSON through electron-store.
 * Unknown keys are kept (looseObject) so a file written by a newer Homeport survives a save.
 */
export const CONFIG_VERSION = 1;

export const KEY_TYPES = ['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096'] as const;
export const CHALLENGES = ['http-01', 'tls-alpn-01', 'dns-01'] as const;

export const KeyTypeSchema = z.enum(KEY_TYPES, {
  error: (i) => `${JSON.stringify(i.input)} is not a key type; use one of ${KEY_TYPES.join(', ')}`,
});
export const ChallengeSchema = z.enum(CHALLENGES, {
  error: (i) => `${JSON.stringify(i.input)} is not a challenge type; use one of ${CHALLENGES.join(', ')}`,
});

/**
 * What to do with a first certificate while it is not yet CT-ready, as the user says it:
 * hold it back, serve it at once (and be told when every browser accepts it), or serve it
 * but let the proxy hold each TLS handshake up to N seconds for the ready moment (on-demand).
 * Absent = Homeport's default ("serve-now"). Renewals always keep the previous certificate
 * until the new one is ready. ct/readiness.ts turns this into the engine's ServingPolicy.
 */
export const ServingChoiceSchema = z.union(
  [
    z.literal('hold'),
    z.literal('serve-now'),
    z.strictObject({ holdHandshakeSeconds: z.number().int().min(1).max(120) }),
  ],
  { error: 'must be "hold", "serve-now" or {"holdHandshakeSeconds": 1..120}' },
);

/** A certificate's id: its directory under <data>/certs/, safe on every file system. */
export const CertIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,199}$/, 'must be lower-case letters, digits, ".", "_" or "-" (it names a directory)');

/**
 * CT readiness: readyAt = the moment every browser policy is met + a margin (never under 2 s:
 * browsers compare SCT timestamps at one-second precision). A first certificate has nothing
 * to fall back to, so its margin is short; a renewal's predecessor stays valid, so it can wait.
 */
const MarginSchema = z.number().int().min(2, 'must be at least 2 seconds (browsers compare at one-second precision)').max(7 * 86_400);
const CT_DEFAULTS = { firstIssuanceMarginSeconds: 5, renewalMarginSeconds: 3_600, strictInclusion: false, refreshLogList: true };
export const CtSettingsSchema = z
  .looseObject({
    firstIssuanceMarginSeconds: MarginSchema.default(CT_DEFAULTS.firstIssuanceMarginSeconds),
    renewalMarginSeconds: MarginSchema.default(CT_DEFAULTS.renewalMarginSeconds),
    /** Serve only once every SCT's log has proven inclusion (a monitor otherwise). */
    strictInclusion: z.boolean().default(CT_DEFAULTS.strictInclusion),
    /** Chrome's signed log list (its .sig next to it); default gstatic.com. */
    logListUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of a v3 log list' }).optional(),
    /** Download the log list daily while Homeport runs; off = the shipped or last saved list. */
    refreshLogList: z.boolean().default(CT_DEFAULTS.refreshLogList),
  })
  .default(CT_DEFAULTS);

/** `host:port` (an IPv6 address in brackets) with a port from 1 to 65535; the API checks input with it too. */
export function isHostPort(s: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(s);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
}

/** What a host:port must be, for the config's, the API's and the CLI's messages alike. */
export const HOST_PORT_RULE = 'host:port with a port from 1 to 65535, e.g. 127.0.0.1:53 or [::1]:53';

const HostPortSchema = z.string().refine(isHostPort, `must be ${HOST_PORT_RULE}`);

/**
 * Why a CA entry cannot be used, in resolveCa's own words and fix (the one rule: a preset name
 * or an https: directory URL), or undefined when it can. Checked on save, so a typo is refused
 * at once instead of failing every later issuance and renewal.
 */
function caProblem(ca: string): string | undefined {
  const err = caError(ca);
  if (!err) return undefined;
  return err.fix ? `${err.message} ${err.fix}` : err.message;
}

/** resolveCa's error for a CA entry it cannot use (the CLI shows its fix alone), or undefined. */
export function caError(ca: string): HomeportError | undefined {
  try {
    resolveCa({ ca });
    return undefined;
  } catch (e) {
    return e as HomeportError;
  }
}

/**
 * caProblem as a zod refinement, for config.json and the API alike. Without `fullStop` the
 * message loses its final full stop: configError ends the sentence itself.
 */
export function refineCa(opts: { fullStop: boolean }): (ca: string, ctx: z.RefinementCtx<string>) => void {
  return (ca, ctx) => {
    const problem = caProblem(ca);
    if (problem) ctx.addIssue({ code: 'custom', message: opts.fullStop ? problem : problem.replace(/\.$/, '') });
  };
}

export const CaEntrySchema = z.looseObject({
  /** A preset (letsencrypt, letsencrypt-staging, zerossl, google, buypass) or an https directory URL. */
  ca: z.string().superRefine(refineCa({ fullStop: false })),
  /** PEM file of a private CA's root, trusted for this directory only. */
  caRoot: z.string().min(1).optional(),
  eab: z.strictObject({ kid: z.string().min(1), hmacKey: z.string().min(1) }).optional(),
});

export const CertificateConfigSchema = z.looseObject({
  name: CertIdSchema,
  names: z.array(z.string().min(1, 'a name cannot be empty')).min(1, 'needs at least one DNS name').max(100),
  keyType: KeyTypeSchema.default('ec256'),
  challenge: ChallengeSchema.optional(),
  /** Key into `dnsProviders`, for dns-01. */
  dnsProvider: z.string().min(1).optional(),
  serving: ServingChoiceSchema.optional(),
});

export const ConfigSchema = z.looseObject({
  version: z.literal(CONFIG_VERSION).default(CONFIG_VERSION),
  email: z.email('must be an e-mail address like you@example.com').optional(),
  /** The user accepted the CA's terms of service (asked once, explicitly). */
  acceptTos: z.boolean().default(false),
  /** Tried in order: when one fails in a way retrying will not fix soon, the next one issues. */
  cas: z.array(CaEntrySchema).min(1, 'needs at least one CA').default([{ ca: 'letsencrypt' }]),
  certificates: z.array(CertificateConfigSchema).default([]),
  /** dns-01 providers by a name the certificates refer to; their fields belong to acme/dns/. */
  dnsProviders: z.record(z.string(), z.looseObject({ provider: z.string().min(1) })).default({}),
  listeners: z
    .looseObject({
      httpPort: z.number().int().min(0).max(65535).default(80),
      httpsPort: z.number().int().min(0).max(65535).default(443),
    })
    .default({ httpPort: 80, httpsPort: 443 }),
  /** DNS server to ask instead of the system resolver (pre-flight, dns-01 propagation). */
  resolver: HostPortSchema.optional(),
  /** This host's public addresses; when given, pre-flight asks no probe service. */
  publicIps: z.array(z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' })).optional(),
  ct: CtSettingsSchema,
  routes: z.array(RouteSchema).default([]),
  /** How the proxy behaves (config/routes.ts); prefault, not default: zod then fills in every field. */
  proxy: ProxySettingsSchema.prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type CaEntry = z.infer<typeof CaEntrySchema>;
export type CertificateConfig = z.infer<typeof CertificateConfigSchema>;
export type ServingChoice = z.infer<typeof ServingChoiceSchema>;
export type CtSettings = z.infer<typeof CtSettingsSchema>;
