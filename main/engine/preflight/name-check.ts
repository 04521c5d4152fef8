import * as net from 'node:net';
import { parse as parseDomain } from 'tldts';
import { normalizeName } from '../acme/names';
import { isHomeportError } from '../errors';
import { classifyAddress } from './addresses';
import { check, CheckResult } from './types';
import { capitalized } from '../acme/cas';

/**
 * Check 1: can this name get a publicly trusted certificate at all? Syntax and lengths (the
 * ACME engine's own normalisation), IDN → punycode, public suffixes (tldts, with the
 * private section: `duckdns.org` belongs to no single owner either), wildcards, internal
 * names, IP literals.
 */
export type NameKind = 'dns' | 'wildcard' | 'ip';

export interface NameFacts {
  /** The name as the CA will see it (punycode, lower case), or the input when it is unusable. */
  ascii: string;
  kind: NameKind;
  usable: boolean;
}

/** Special-use and customary private suffixes (RFC 6761, RFC 8375, ICANN's .internal, home-router habits). */
const INTERNAL_SUFFIXES = [
  'local', 'lan', 'home.arpa', 'internal', 'localhost', 'localdomain', 'test', 'example', 'invalid',
  'home', 'corp', 'intranet', 'private', 'onion', 'alt',
];

const INTERNAL_FIX =
  'Public CAs only issue for names under a domain you own. Either use a real domain (for example ' +
  'nas.home.example.com) with the dns-01 challenge, which works even when the name only resolves ' +
  'inside your network, or run a private CA (such as step-ca) and install its root on your devices.';

export interface CaNameFacts {
  displayName: string;
  issuesForIp: boolean;
}

export function checkName(input: string, ca: CaNameFacts): { result: CheckResult; facts: NameFacts } {
  const raw = input.trim().replace(/\.$/, '').toLowerCase();
  const bare = raw.replace(/^\[(.*)\]$/, '$1');
  const unusable = (summary: string, fix: string, evidence: string[] = []) => ({
    result: check('name', 'fail', summary, evidence, fix),
    facts: { ascii: raw, kind: 'dns' as NameKind, usable: false },
  });

  if (net.isIP(bare)) {
    const kind = classifyAddress(bare);
    if (kind !== 'public') {
      return unusable(
        `${bare} is a ${kind} address: no public CA issues certificates for it, because nobody outside your network can reach it.`,
        'Give the service a real domain name (dns-01 works for names that resolve only inside your network), or use a private CA.',
      );
    }
    if (!ca.issuesForIp) {
      return unusable(
        `${capitalized(ca.displayName)} does not issue certificates for IP addresses.`,
        "Use a domain name, or a CA that issues for IP addresses (Let's Encrypt does, as short-lived certificates).",
      );
    }
    return {
      result: check('name', 'pass', `${bare} is an IP address, and ${ca.displayName} issues for IP addresses (validated with http-01 or tls-alpn-01, never dns-01).`, [`IP literal ${bare}`]),
      facts: { ascii: bare, kind: 'ip', usable: true },
    };
  }

  const labels = raw.replace(/^\*\./, '').split('.');
  const internal = INTERNAL_SUFFIXES.find((s) => raw === s || raw.endsWith('.' + s));
  if (labels.length === 1 || internal) {
    const what = internal ? `ends in .${internal}, a name that exists only inside private networks` : 'is a bare host name with no domain';
    return unusable(`${raw} ${what}: no public CA can issue a certificate for it.`, INTERNAL_FIX);
  }

  let ascii: string;
  try {
    ascii = normalizeName(input);
  } catch (e) {
    if (isHomeportError(e)) return unusable(e.message, e.fix ?? 'Give a full domain name such as home.example.com.');
    throw e;
  }
  const wildcard = ascii.startsWith('*.');
  const base = wildcard ? ascii.slice(2) : ascii;
  const evidence: string[] = [];
  if (ascii !== raw) evidence.push(`${input.trim()} is written ${ascii} in DNS (IDN → punycode)`);

  const parsed = parseDomain(base, { allowPrivateDomains: true });
  if (!parsed.isIcann && !parsed.isPrivate) {
    return unusable(`${base} does not end in a public top-level domain (.${parsed.publicSuffix} is not one).`, INTERNAL_FIX, evidence);
  }
  if (parsed.domain === null || base === parsed.publicSuffix) {
    return unusable(
      `${base} is a public suffix (like co.uk or github.io): names under it belong to many different owners, so no CA issues a certificate for it${wildcard ? ' or for a wildcard under it' : ''}.`,
      `Use a name under a domain you registered, e.g. home.yourname.${parsed.publicSuffix}.`,
      evidence,
    );
  }
  evidence.push(`registered domain ${parsed.domain} (public suffix ${parsed.publicSuffix})`);
  if (wildcard) {
    return {
      result: check(
        'name',
        'pass',
        `${ascii} is a wildcard: CAs validate wildcards only with the dns-01 challenge, so Homeport needs to write TXT records at your DNS provider.`,
        evidence,
        null,
      ),
      facts: { ascii, kind: 'wildcard', usable: true },
    };
  }
  return {
    result: check('name', 'pass', `${ascii} is a valid public name.`, evidence),
    facts: { ascii, kind: 'dns', usable: true },
  };
}
