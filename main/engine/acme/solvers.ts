import { Resolver } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext } from 'node:tls';
import { isIP } from 'node:net';
import { HomeportError } from '../errors';
import { formatDnsServer, parseDnsServer } from '../dns/transport';
import type { ChallengeType } from '../certs/types';
import type { ChallengeStore } from './challenges';
import type { DnsProvider } from './dns-provider';
import type { Authorization } from 'acme-client';
import { acme } from './acme-http';

/**
 * Puts a challenge answer where the CA will look for it, and takes it away afterwards.
 * http-01 and tls-alpn-01 answers go to the shared ChallengeStore (served by the standalone
 * listeners or by the proxy); dns-01 answers go to a DnsProvider.
 */
export interface Solver {
  /**
   * Resolves when the answer is visible to the CA (for dns-01: at the configured resolver).
   * `answer` is what acme-client's getChallengeKeyAuthorization gives for the challenge: the
   * key authorization for http-01 and tls-alpn-01, the TXT value for dns-01.
   */
  present(name: string, token: string, answer: string, signal?: AbortSignal): Promise<void>;
  /** Called after present() also when it failed: undoes whatever it got to do. */
  cleanup(name: string, token: string, answer: string): Promise<void>;
}

export function http01Solver(store: ChallengeStore): Solver {
  return {
    async present(_name, token, keyAuthorization) {
      await store.setHttp01(token, keyAuthorization);
    },
    async cleanup(_name, token) {
      store.deleteHttp01(token);
    },
  };
}

/**
 * The validation certificate (RFC 8737) from acme-client, signed with `keyPem`: an ECDSA key
 * made once, not the fresh RSA-2048 key acme-client would make for every challenge.
 */
export function tlsAlpn01Solver(store: ChallengeStore, keyPem: () => Promise<string>): Solver {
  return {
    async present(name, _token, keyAuthorization) {
      const key = await keyPem();
      const [, cert] = await acme().crypto.createAlpnCertificate({ identifier: { type: 'dns', value: name } } as Authorization, keyAuthorization, key);
      await store.setTlsAlpn01(name, createSecureContext({ key, cert }), { certPem: cert.toString(), keyPem: key });
    },
    async cleanup(name) {
      store.deleteTlsAlpn01(name);
    },
  };
}

export function dns01Name(name: string): string {
  return `_acme-challenge.${name.replace(/^\*\./, '')}`;
}

/** "ip:port", "ip", "[v6]:port" or a bare IPv6 address → a server string for node:dns setServers. */
export function resolverServer(spec: string): string {
  const server = parseDnsServer(spec);
  if (!server || !isIP(server.host)) {
    throw new HomeportError('config.invalid-resolver', `"${spec}" is not a DNS server address.`, {
      fix: 'Give an IP address and port, e.g. 1.1.1.1:53 or [2606:4700:4700::1111]:53.',
    });
  }
  return formatDnsServer(server);
}

/**
 * The name the TXT record goes to: `_acme-challenge.<name>`, or where its CNAME chain ends.
 * Self-hosters delegate the challenge that way to a zone they may update (the CA follows
 * the CNAME too, RFC 8555 §8.4), so the zone of <name> itself needs no update key.
 */
export async function dns01Target(resolver: Pick<Resolver, 'resolveCname'>, fqdn: string, where: string): Promise<string> {
  const seen = [fqdn];
  for (;;) {
    const name = seen[seen.length - 1]!;
    let targets: string[];
    try {
      targets = await resolver.resolveCname(name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENODATA' || code === 'ENOTFOUND') return name;
      throw new HomeportError('acme.dns-lookup-failed', `Could not look up ${name} at ${where} (${code ?? e}), so it is unclear where the dns-01 TXT record belongs.`, {
        fix: 'Check that the resolver answers (--resolver), then try again.',
        details: { fqdn: name },
      });
    }
    const next = targets[0]!.replace(/\.$/, '').toLowerCase();
    if (seen.includes(next) || seen.length > 8) {
      throw new HomeportError('acme.dns-cname-loop', `The CNAME records from ${fqdn} go round in a loop or too deep (${[...seen, next].join(' → ')}).`, {
        fix: `Point ${fqdn} with one CNAME at a name in a zone Homeport may update, and give that name no CNAME of its own.`,
        details: { fqdn, chain: seen },
      });
    }
    seen.push(next);
  }
}

export function dns01Solver(
  provider: DnsProvider,
  opts: { resolver?: string; timeoutMs?: number } = {},
): Solver {
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  if (opts.resolver) resolver.setServers([resolverServer(opts.resolver)]);
  const where = opts.resolver ?? 'the system resolver';
  // Where each answer was written, so cleanup removes it there even if the CNAME changed since.
  const written = new Map<string, string>();
  return {
    async present(name, _token, value, signal) {
      const fqdn = await dns01Target(resolver, dns01Name(name), where);
      // Recorded first: a write whose reply is lost may still have created the record.
      written.set(`${name} ${value}`, fqdn);
      await provider.setTxt(fqdn, value);
      // The CA asks the authoritative servers, maybe at once: wait until the record is
      // visible where the user told us to look, so we never ask for validation too early.
      const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
      let delay = 50;
      for (;;) {
        const records = await resolver.resolveTxt(fqdn).catch(() => [] as string[][]);
        if (records.some((chunks) => chunks.join('') === value)) return;
        if (Date.now() > deadline) {
          throw new HomeportError('acme.dns-propagation-timeout', `The TXT record ${fqdn} did not appear at ${where} within ${Math.round((opts.timeoutMs ?? 120_000) / 1000)} s.`, {
            fix: `Check that ${provider.id} manages the zone of ${fqdn.replace(/^_acme-challenge\./, '')} and that --resolver names a server that sees it.`,
            details: { fqdn, provider: provider.id },
          });
        }
        await sleep(delay, undefined, { signal });
        delay = Math.min(delay * 2, 2_000);
      }
    },
    async cleanup(name, _token, value) {
      const key = `${name} ${value}`;
      const fqdn = written.get(key);
      if (fqdn === undefined) return; // present() failed before writing anything
      await provider.removeTxt(fqdn, value);
      written.delete(key);
    },
  };
}

export type Solvers = Partial<Record<ChallengeType, Solver>>;
