import { z } from 'zod';
import type { Clock } from '../../clock';
import { HomeportError } from '../../errors';
import type { DnsProvider } from '../dns-provider';
import { CloudflareProvider } from './cloudflare';
import { Rfc2136Provider } from './rfc2136';
import { parseDnsServer } from '../../dns/transport';
import { DEFAULT_TSIG_ALGORITHM, TSIG_ALGORITHMS, parseTsigAlgorithm } from './tsig';

/**
 * dns-01 providers from config (an entry of config.json's `dnsProviders`), with messages that
 * say which field is wrong and what a right one looks like.
 */

const DNS_NAME = /^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$/i;

export const Rfc2136ConfigSchema = z.strictObject({
  provider: z.literal('rfc2136'),
  server: z
    .string({ error: 'is required: the zone\'s primary DNS server as host:port, e.g. "ns1.example.com:53"' })
    .refine((s) => parseDnsServer(s) !== undefined, 'must be host:port, e.g. "ns1.example.com:53", "192.0.2.53:53" or "[2001:db8::53]:53"'),
  keyName: z
    .string({ error: 'is required: the TSIG key\'s name as the DNS server knows it' })
    .regex(DNS_NAME, 'must be the TSIG key\'s name as the DNS server knows it, e.g. "homeport-key"'),
  keyAlgorithm: z
    .string()
    .refine((a) => parseTsigAlgorithm(a) !== undefined, `must be one of ${TSIG_ALGORITHMS.join(', ')}`)
    .optional(),
  keySecret: z
    .string({ error: 'is required: the key\'s base64 secret, as in the server\'s key definition' })
    .refine((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s.replace(/\s+/g, '')), 'must be the key\'s base64 secret, as in the server\'s key definition'),
  zone: z.string().regex(DNS_NAME, 'must be a DNS zone name like "example.com"').optional(),
  tcp: z.boolean({ error: 'must be true or false' }).optional(),
  ttl: z.number().int().min(1).max(86_400, 'must be between 1 and 86400 seconds').optional(),
});

export const CloudflareConfigSchema = z.strictObject({
  provider: z.literal('cloudflare'),
  apiToken: z
    .string({ error: 'is required: a Cloudflare API token with Zone → DNS → Edit' })
    .refine((s) => /^\S+$/.test(s.trim()), 'must be a Cloudflare API token (one word, no spaces)'),
  zoneId: z.string().regex(/^[0-9a-f]{32}$/i, 'must be the 32-character zone id from the domain\'s Overview page').optional(),
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of the Cloudflare API' }).optional(),
  ttl: z.number().int().min(1).max(86_400, 'must be between 1 and 86400 seconds').optional(),
});

export type Rfc2136Config = z.infer<typeof Rfc2136ConfigSchema>;
export type CloudflareConfig = z.infer<typeof CloudflareConfigSchema>;
export type DnsProviderConfig = Rfc2136Config | CloudflareConfig;
export const DNS_PROVIDERS = ['rfc2136', 'cloudflare'] as const;

function invalid(label: string, problem: string, fix: string): HomeportError {
  return new HomeportError('config.dns-provider', `${label}: ${problem}.`, { fix });
}

function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    return `unknown setting${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `"${issue.path.join('.')}" ${issue.message}`;
}

/** Validates one provider entry; throws HomeportError `config.dns-provider` with the first problem. */
export function parseDnsProviderConfig(input: unknown, name?: string): DnsProviderConfig {
  const label = name ? `dns-01 provider "${name}"` : 'dns-01 provider';
  const docsFix = 'See the dns-01 section of the README for the fields each provider takes.';
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid(label, 'must be an object like {"provider": "rfc2136", …}', docsFix);
  }
  const provider = (input as { provider?: unknown }).provider;
  const schema = provider === 'rfc2136' ? Rfc2136ConfigSchema : provider === 'cloudflare' ? CloudflareConfigSchema : undefined;
  if (!schema) {
    throw invalid(label, `"provider" must be ${DNS_PROVIDERS.map((p) => `"${p}"`).join(' or ')}, not ${JSON.stringify(provider ?? null)}`, docsFix);
  }
  // Guides written for other tools configure the Global API Key; say what to use instead.
  if (provider === 'cloudflare' && Object.keys(input).some((k) => /^(apiKey|email|globalApiKey)$/i.test(k))) {
    throw invalid(label, 'Homeport uses a scoped API token ("apiToken"), not the Global API Key and e-mail', 'Create an API token in the Cloudflare dashboard (My Profile → API Tokens, template "Edit zone DNS") and set it as "apiToken".');
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid(label, firstProblem(parsed.error), docsFix);
  return parsed.data;
}

export interface CreateDnsProviderOptions {
  /** The config key, named in error messages. */
  name?: string;
  /** TSIG signatures are timed. */
  clock?: Clock;
}

export function createDnsProvider(input: unknown, opts: CreateDnsProviderOptions = {}): DnsProvider {
  const config = parseDnsProviderConfig(input, opts.name);
  if (config.provider === 'cloudflare') {
    return new CloudflareProvider({ apiToken: config.apiToken.trim(), zoneId: config.zoneId, baseUrl: config.baseUrl, ttl: config.ttl });
  }
  return new Rfc2136Provider({
    server: parseDnsServer(config.server)!,
    key: {
      name: config.keyName.replace(/\.$/, ''),
      algorithm: config.keyAlgorithm === undefined ? DEFAULT_TSIG_ALGORITHM : parseTsigAlgorithm(config.keyAlgorithm)!,
      secret: Buffer.from(config.keySecret.replace(/\s+/g, ''), 'base64'),
    },
    zone: config.zone,
    tcp: config.tcp,
    ttl: config.ttl,
    clock: opts.clock,
  });
}

export { CloudflareProvider } from './cloudflare';
export { Rfc2136Provider } from './rfc2136';
