import { z } from 'zod';
import { HOST_PORT_RULE, isHostPort, refineCa } from '../engine/config/schema';

/**
 * Input validation for every contract method. The UI is trusted no more than a web page:
 * each request is parsed here before the engine sees it, and a bad one becomes a plain
 * error naming the field.
 */
const dnsName = z
  .string()
  .trim()
  .min(1, 'Enter a domain name, e.g. home.example.com.')
  .max(253, 'A domain name is at most 253 characters long.')
  .refine((s) => !/[\s/:@?#]/.test(s), 'A domain name has no spaces, slashes, colons or @: enter just the name, e.g. home.example.com.');

export const KeyTypeSchema = z.enum(['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096']);
export const ChallengeSchema = z.enum(['http-01', 'tls-alpn-01', 'dns-01']);
export const ServingPolicySchema = z.union([
  z.enum(['hold', 'serve-now']),
  z.strictObject({ holdHandshakeSeconds: z.number().int().min(1).max(120) }),
]);

const certName = z.strictObject({ name: dnsName });
const names = z.array(dnsName).min(1, 'Enter at least one domain name.').max(100, 'One certificate can cover at most 100 names.');

const upstream = z
  .string()
  .trim()
  .refine((s) => /^(https?:\/\/[^\s]+|unix:\/[^\s]+)$/.test(s), 'An upstream is an address like http://192.168.1.10:8123 or unix:/run/app.sock.');

export const inputSchemas = {
  overview: z.undefined(),
  getCertificate: certName,
  preflight: z.strictObject({ names }),
  issue: z.strictObject({
    names,
    keyType: KeyTypeSchema.optional(),
    challenge: ChallengeSchema.optional(),
    servingPolicy: ServingPolicySchema.optional(),
    email: z.email('Enter an e-mail address like you@example.com.').optional(),
    acceptTos: z.boolean().optional(),
  }),
  renew: z.strictObject({ name: dnsName, force: z.boolean().optional() }),
  removeCertificate: certName,
  exportCertificate: z
    .strictObject({
      name: dnsName,
      format: z.enum(['pem', 'fullchain', 'key', 'pfx', 'zip']),
      password: z.string().min(1).max(256).optional(),
    })
    .refine((r) => r.format !== 'pfx' || r.password !== undefined, {
      message: 'A PFX file needs a password: enter one to protect the private key.',
      path: ['password'],
    }),
  addRoute: z.strictObject({
    host: dnsName,
    pathPrefix: z.string().startsWith('/', 'A path prefix starts with "/".').optional(),
    upstreams: z.array(upstream).min(1, 'Give at least one upstream address.'),
  }),
  removeRoute: z.strictObject({
    host: dnsName,
    pathPrefix: z.string().refine((p) => p === '' || p.startsWith('/'), 'A path prefix starts with "/".').optional(),
  }),
  getSettings: z.undefined(),
  updateSettings: z
    .strictObject({
      email: z.email('Enter an e-mail address like you@example.com.').optional(),
      cas: z
        .array(
          z.string().trim().superRefine(refineCa({ fullStop: true })),
        )
        .min(1, 'Keep at least one CA.')
        .optional(),
      acceptTos: z.boolean().optional(),
      httpPort: z.number().int().min(1).max(65535).optional(),
      httpsPort: z.number().int().min(1).max(65535).optional(),
      // '' switches back to the system resolver.
      resolver: z
        .string()
        .trim()
        .refine((s) => s === '' || isHostPort(s), `Write the resolver as ${HOST_PORT_RULE}, or leave it empty to use the system resolver.`)
        .optional(),
      publicIps: z.array(z.union([z.ipv4(), z.ipv6()], { error: 'Enter IP addresses like 203.0.113.7 or 2001:db8::7.' })).max(8).optional(),
      ctMargins: z
        .strictObject({
          firstIssuanceSeconds: z.number().int().min(2, 'At least 2 seconds: browsers compare times to the second.').max(7 * 86_400),
          renewalSeconds: z.number().int().min(2, 'At least 2 seconds: browsers compare times to the second.').max(7 * 86_400),
        })
        .partial()
        .optional(),
      theme: z.enum(['system', 'light', 'dark']).optional(),
      notify: z.strictObject({ ctReady: z.boolean(), failed: z.boolean(), drift: z.boolean() }).partial().optional(),
      launchAtLogin: z.boolean().optional(),
    }),
} as const;
