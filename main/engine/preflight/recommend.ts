import type { ChallengeType } from '../certs/types';
import type { AddressFacts } from './address-check';
import type { CaaFacts } from './caa';
import type { CdnFacts } from './cdn-check';
import type { DnsFacts } from './dns-check';
import type { NameFacts } from './name-check';
import type { PortFacts } from './ports';
import { check, CheckResult } from './types';

/**
 * Check 8: which challenge will work for this name, from what the other checks found, or
 * what has to change first. Preference: http-01 (simplest), tls-alpn-01 (port 443 only),
 * dns-01 (works without incoming connections, but needs a DNS provider).
 */
export const CHALLENGE_PREFERENCE: readonly ChallengeType[] = ['http-01', 'tls-alpn-01', 'dns-01'];

export interface RecommendInput {
  name: NameFacts;
  address: AddressFacts;
  dns: DnsFacts;
  caa: CaaFacts;
  ports: PortFacts;
  cdn: CdnFacts;
  /** A DNS provider is configured, so dns-01 can publish its TXT record. */
  dnsProvider: boolean;
  httpPort: number;
  httpsPort: number;
}

export function recommend(input: RecommendInput): { result: CheckResult; viable: ChallengeType[] } {
  const { name, address, dns, caa, ports, cdn } = input;
  const why: Record<ChallengeType, string[]> = { 'http-01': [], 'tls-alpn-01': [], 'dns-01': [] };
  const inbound = (c: 'http-01' | 'tls-alpn-01', state: string, port: number) => {
    if (name.kind === 'wildcard') why[c].push('wildcards need dns-01');
    if (!address.inbound) why[c].push('this host cannot be reached from the internet');
    if (!dns.pointsHere) why[c].push(`${name.ascii} does not point at this host`);
    if (cdn.proxied) why[c].push('the name is proxied by Cloudflare');
    if (state !== 'free') why[c].push(`port ${port} is ${state === 'in-use' ? 'in use' : 'not available'}`);
  };
  inbound('http-01', ports.http, input.httpPort);
  inbound('tls-alpn-01', ports.https, input.httpsPort);
  if (name.kind === 'ip') why['dns-01'].push('IP addresses cannot be validated with dns-01');
  if (!dns.zoneAnswers && name.kind !== 'ip') why['dns-01'].push('the zone does not answer');
  for (const c of CHALLENGE_PREFERENCE) {
    if (!caa.allowedChallenges.includes(c)) why[c].push('the CAA records do not allow it');
  }
  const viable = CHALLENGE_PREFERENCE.filter((c) => why[c].length === 0);
  const evidence = CHALLENGE_PREFERENCE.map((c) => `${c}: ${why[c].length ? `no (${why[c].join('; ')})` : 'possible'}`);
  if (!name.usable) {
    return { result: check('challenge', 'fail', 'No challenge can work until the name is fixed (see the name check).', [], null), viable: [] };
  }
  const best = viable[0];
  if (!best) {
    return {
      result: check(
        'challenge',
        'fail',
        `No challenge can work for ${name.ascii} as things are.`,
        evidence,
        caa.forbidden
          ? 'Fix the CAA records first (see the caa check).'
          : 'Fix the findings above: point the name at this host and open port 80 or 443, or set up a DNS provider for dns-01.',
      ),
      viable,
    };
  }
  if (best === 'dns-01' && !input.dnsProvider) {
    return {
      result: check(
        'challenge',
        'warn',
        `Use dns-01 for ${name.ascii}${why['http-01'].length ? ` (http-01 is out: ${why['http-01'].join('; ')})` : ''}; it needs a DNS provider, and none is configured.`,
        evidence,
        'Configure a DNS provider: RFC 2136 (BIND, Knot, PowerDNS, many routers) or Cloudflare\'s API with a token that may edit DNS.',
      ),
      viable,
    };
  }
  const note =
    best === 'http-01'
      ? ''
      : ` (http-01 is out: ${why['http-01'].join('; ')}${best === 'dns-01' ? `; tls-alpn-01 is out: ${why['tls-alpn-01'].join('; ')}` : ''})`;
  return { result: check('challenge', 'pass', `Use ${best} for ${name.ascii}${note}.`, evidence), viable };
}
