/**
 * A dns-01 provider publishes and removes `_acme-challenge` TXT records. Implementations:
 * RFC 2136 dynamic update with TSIG (BIND, Knot, PowerDNS …) and Cloudflare's API.
 */
export interface DnsProvider {
  /** Short id shown to users and stored in config, e.g. `rfc2136`, `cloudflare`. */
  readonly id: string;
  /** Adds a TXT record `value` at `fqdn` (no trailing dot), keeping other TXT values there. */
  setTxt(fqdn: string, value: string): Promise<void>;
  /** Removes exactly that TXT value; absent is not an error. */
  removeTxt(fqdn: string, value: string): Promise<void>;
}
