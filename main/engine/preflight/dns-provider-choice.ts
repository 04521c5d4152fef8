import type { Config } from '../config/schema';
import { HomeportError } from '../errors';

/**
 * Which configured dns-01 provider the checks may count on for these names: the one named
 * on the command line, else the one a configured certificate with these names uses, else
 * the only one configured.
 */
export interface ChosenProvider {
  name: string;
  config: unknown;
}

export function chooseDnsProvider(config: Config, names: string[], explicit?: string): ChosenProvider | undefined {
  const providers = config.dnsProviders;
  if (explicit) {
    if (!(explicit in providers)) {
      const known = Object.keys(providers);
      throw new HomeportError('preflight.unknown-dns-provider', `There is no DNS provider "${explicit}" in the configuration.`, {
        fix: known.length ? `Use one of ${known.join(', ')}.` : 'Add one under "dnsProviders" in config.json first.',
      });
    }
    return { name: explicit, config: providers[explicit] };
  }
  const lower = names.map((n) => n.toLowerCase());
  const cert = config.certificates.find((c) => c.dnsProvider && lower.every((n) => c.names.map((x) => x.toLowerCase()).includes(n)));
  if (cert?.dnsProvider && cert.dnsProvider in providers) return { name: cert.dnsProvider, config: providers[cert.dnsProvider] };
  const all = Object.keys(providers);
  return all.length === 1 ? { name: all[0], config: providers[all[0]] } : undefined;
}

/**
 * Why chooseDnsProvider chose none for a certificate that names none, when providers are
 * configured: several are, and nothing says which. Undefined when none is configured.
 */
export function unchosenDnsProvider(config: Config, certName: string): { reason: string; fix: string } | undefined {
  const configured = Object.keys(config.dnsProviders);
  if (configured.length === 0) return undefined;
  return {
    reason: `the certificate names no DNS provider while several are configured (${configured.join(', ')}), so Homeport cannot tell which one publishes its TXT record`,
    fix: `Name the one to use: homeport issue with --dns-provider ${configured.join(' or --dns-provider ')}, or "dnsProvider" on the certificate "${certName}" in config.json.`,
  };
}
