import { isCloudflareAddress } from './addresses';
import { CLOUDFLARE_LIST_DATE, CLOUDFLARE_SOURCE } from './data/cloudflare-ips';
import { check, CheckResult } from './types';

/**
 * Check 6: a CDN in front of the name. Cloudflare's proxy ("orange cloud") answers with its
 * own addresses, so the CA's connections end at Cloudflare: tls-alpn-01 cannot work (the
 * TLS handshake is Cloudflare's), and http-01 only if Cloudflare passes the challenge path
 * through to this host over plain HTTP.
 */
export interface CdnFacts {
  proxied: boolean;
}

export function checkCdn(name: string, addresses: string[]): { result: CheckResult; facts: CdnFacts } {
  if (name.startsWith('*.')) {
    return {
      result: check('cdn', 'skip', 'A wildcard is validated with dns-01, which a CDN in front does not affect.'),
      facts: { proxied: false },
    };
  }
  const cf = addresses.filter(isCloudflareAddress);
  const source = `Cloudflare ranges from ${CLOUDFLARE_SOURCE} (list of ${CLOUDFLARE_LIST_DATE})`;
  if (cf.length === 0) {
    return {
      result: check('cdn', 'pass', `${name} is not behind Cloudflare's proxy.`, [
        `${addresses.join(', ') || 'no addresses'}: not in ${source}`,
      ]),
      facts: { proxied: false },
    };
  }
  return {
    result: check(
      'cdn',
      'warn',
      `${name} points at Cloudflare (${cf.join(', ')}): the record is proxied ("orange cloud"), so the CA reaches Cloudflare, not this host. tls-alpn-01 cannot work through the proxy, and http-01 works only if Cloudflare forwards /.well-known/acme-challenge/ to this host over plain HTTP (no "Always Use HTTPS").`,
      cf.map((a) => `${a} is in ${source}`),
      'Use dns-01 with Homeport\'s Cloudflare provider (an API token with Zone.DNS edit), or set the record to "DNS only" (grey cloud) in the Cloudflare dashboard.',
    ),
    facts: { proxied: true },
  };
}
