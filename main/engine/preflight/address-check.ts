import { AddressKind, classifyAddress, PublicAddresses } from './addresses';
import { check, CheckResult } from './types';

/**
 * Check 2: this host's public addresses. A carrier-grade NAT (100.64.0.0/10) or private WAN
 * address means nobody on the internet can open a connection to this host over IPv4, which
 * rules out http-01 and tls-alpn-01 there.
 */
export interface AddressFacts {
  /** Addresses the internet can connect to. */
  ipv4: string[];
  ipv6: string[];
  /** False when no address was found (probe failed): DNS answers cannot be compared. */
  known: boolean;
  /** Inbound connections can reach this host on some family. */
  inbound: boolean;
}

const KIND_WORDS: Record<Exclude<AddressKind, 'public'>, string> = {
  cgnat: "in the carrier-grade NAT range 100.64.0.0/10: your ISP shares one public address between many customers, so connections from the internet cannot be forwarded to you",
  private: 'a private address: the router in front of this one has another router (or the ISP) in front of it, so port forwarding on your router alone does not make this host reachable',
  loopback: 'a loopback address, which only this machine can reach',
  'link-local': 'a link-local address, which only the local network segment can reach',
};

export function checkPublicAddress(found: PublicAddresses): { result: CheckResult; facts: AddressFacts } {
  const all = [...found.ipv4, ...found.ipv6];
  const evidence = [...found.evidence];
  if (all.length === 0) {
    return {
      result: check(
        'public-address',
        'warn',
        "This host's public address could not be found, so the DNS records cannot be compared with it.",
        evidence,
        'Give the address with --public-ip (your router shows it), or allow Homeport to reach the address probe services.',
      ),
      facts: { ipv4: [], ipv6: [], known: false, inbound: true },
    };
  }
  const problems = all.filter((a) => classifyAddress(a) !== 'public');
  const ipv4 = found.ipv4.filter((a) => classifyAddress(a) === 'public');
  const ipv6 = found.ipv6.filter((a) => classifyAddress(a) === 'public');
  for (const a of all) evidence.push(`${a}: ${classifyAddress(a)}`);
  const inbound = ipv4.length + ipv6.length > 0;
  if (problems.length) {
    const lines = problems.map((a) => `${a} is ${KIND_WORDS[classifyAddress(a) as Exclude<AddressKind, 'public'>]}.`);
    return {
      result: check(
        'public-address',
        'warn',
        `This host's address ${lines.join(' ')}${inbound ? ` Only ${[...ipv4, ...ipv6].join(', ')} can be reached from the internet.` : ' The CA cannot connect to this host, so http-01 and tls-alpn-01 cannot work.'}`,
        evidence,
        'Use the dns-01 challenge (it needs no incoming connection), or ask your ISP for a public IPv4 address, or use IPv6 if your ISP provides it.',
      ),
      facts: { ipv4, ipv6, known: true, inbound },
    };
  }
  return {
    result: check(
      'public-address',
      'pass',
      `This host's public address is ${all.join(' and ')}${ipv6.length === 0 ? ' (no public IPv6 address)' : ''}.`,
      evidence,
    ),
    facts: { ipv4, ipv6, known: true, inbound: true },
  };
}
