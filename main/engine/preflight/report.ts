import type { ChallengeType } from '../certs/types';
import { AddressFacts, checkPublicAddress } from './address-check';
import { sameAddress } from './addresses';
import type { AddressProbe } from './addresses';
import { CaaFacts, checkCaa } from './caa';
import { checkCdn } from './cdn-check';
import { checkDns, DnsFacts } from './dns-check';
import { DnsContext, DnsLookup } from './lookup';
import { checkName } from './name-check';
import { checkHairpin, checkPorts, HairpinOptions, PortFacts } from './ports';
import { CHALLENGE_PREFERENCE, recommend } from './recommend';
import { checkRateLimits } from './rate-limit-check';
import type { RateLimitLedger } from './rate-limits';
import { check, CHECK_IDS, CheckResult, NameReport, PreflightReport } from './types';

/**
 * Runs checks 1–8 for every name and adds them up: a report per name, a verdict (blocked
 * when any check fails) and the challenge that works for all names.
 */
export interface PreflightCa {
  /** Preset id or directory URL (the rate-limit ledger's key). */
  id: string;
  displayName: string;
  /** CAA issuer domains that allow this CA (empty: unknown). */
  identities: string[];
  issuesForIp: boolean;
  /** This host's account URL at the CA, when one exists (CAA accounturi, rate limits). */
  accountUrl?: string;
}

export interface PreflightOptions {
  names: string[];
  ca: PreflightCa;
  dns: DnsContext;
  addresses: AddressProbe;
  httpPort: number;
  httpsPort: number;
  /** Where a connection to public address:port goes (tests); identity in the app. */
  hairpinTarget?: HairpinOptions['target'];
  ledger?: RateLimitLedger;
  /** A DNS provider is configured for dns-01. */
  dnsProvider?: boolean;
  /**
   * Homeport's own proxy holds the ports and answers the challenges there (`homeport serve`,
   * the app): they are not tried, and the hairpin test (which needs them) is skipped.
   */
  proxyListening?: boolean;
  /** The staging dry run; nothing is sent to a CA when absent. */
  dryRun?: (names: string[], challenge: ChallengeType) => Promise<Map<string, CheckResult>>;
}

const skipAll = (why: string): CheckResult[] =>
  CHECK_IDS.filter((id) => id !== 'name').map((id) => check(id, 'skip', why));

export async function runPreflight(opts: PreflightOptions): Promise<PreflightReport> {
  const lookup = new DnsLookup(opts.dns);
  const names = opts.names.map((n) => ({ input: n, ...checkName(n, opts.ca) }));

  const [found, ports] = await Promise.all([opts.addresses.discover(), opts.proxyListening ? proxyPorts(opts) : checkPorts(opts)]);
  const address = checkPublicAddress(found);
  const hairpin = opts.proxyListening
    ? { result: check('hairpin', 'skip', "Not tested: Homeport's proxy holds the ports, so no test listener can open there.") }
    : await checkHairpin({
        ...opts,
        addresses: [...found.ipv4, ...found.ipv6],
        ports: ports.facts,
        target: opts.hairpinTarget,
      });
  const usable = names.filter((n) => n.facts.usable).map((n) => n.facts.ascii);
  const limits = checkRateLimits(opts.ledger, { ca: opts.ca.id, caName: opts.ca.displayName, account: opts.ca.accountUrl, names: usable });

  const perName = await Promise.all(
    names.map(async (n) => {
      if (!n.facts.usable) {
        return { n, checks: [n.result, ...skipAll(`Skipped: ${n.facts.ascii} cannot get a public certificate (see the name check).`)], viable: [] as ChallengeType[] };
      }
      const name = n.facts.ascii;
      const [dns, caa] = n.facts.kind === 'ip'
        ? [ipDns(name, address.facts), { result: check('caa', 'skip', 'IP addresses have no CAA records.'), facts: { allowedChallenges: [...CHALLENGE_PREFERENCE], forbidden: false, owner: null, records: [] } as CaaFacts }]
        : await Promise.all([checkDns(lookup, name, address.facts, opts.ca.displayName), checkCaa(lookup, name, { displayName: opts.ca.displayName, identities: opts.ca.identities, accountUrl: opts.ca.accountUrl })]);
      const cdn = checkCdn(name, dns.facts.addresses);
      const rec = recommend({
        name: n.facts,
        address: address.facts,
        dns: dns.facts,
        caa: caa.facts,
        ports: ports.facts,
        cdn: cdn.facts,
        dnsProvider: Boolean(opts.dnsProvider),
        httpPort: opts.httpPort,
        httpsPort: opts.httpsPort,
      });
      const checks = [
        n.result,
        address.result,
        dns.result,
        caa.result,
        ports.result,
        hairpin.result,
        check('dry-run', 'skip', 'Not run: nothing was sent to a CA. Add --dry-run to validate every name at the staging CA for real.'),
        cdn.result,
        limits(name),
        rec.result,
      ];
      return { n, checks, viable: rec.viable };
    }),
  );

  const allViable = CHALLENGE_PREFERENCE.filter((c) => perName.length > 0 && perName.every((p) => p.viable.includes(c)));
  const recommendedChallenge = allViable[0] ?? null;

  if (opts.dryRun && recommendedChallenge && usable.length) {
    const results = await opts.dryRun(usable, recommendedChallenge);
    for (const p of perName) {
      const r = results.get(p.n.facts.ascii);
      if (r) p.checks[CHECK_IDS.indexOf('dry-run')] = r;
    }
  } else if (opts.dryRun) {
    for (const p of perName) {
      if (p.n.facts.usable) {
        p.checks[CHECK_IDS.indexOf('dry-run')] = check('dry-run', 'skip', 'Not run: no challenge works for every name yet (see the challenge check).');
      }
    }
  }

  const reports: NameReport[] = perName.map((p) => ({ name: p.n.facts.ascii, checks: p.checks }));
  const blocked = reports.length === 0 || reports.some((r) => r.checks.some((c) => c.status === 'fail'));
  return { verdict: blocked ? 'blocked' : 'ready', recommendedChallenge, names: reports };
}

function proxyPorts(opts: PreflightOptions): { result: CheckResult; facts: PortFacts } {
  return {
    result: check('ports', 'pass', `Homeport's proxy listens on ports ${opts.httpPort} and ${opts.httpsPort} and answers the challenges there.`),
    facts: { http: 'free', https: 'free' },
  };
}

function ipDns(ip: string, host: AddressFacts): { result: CheckResult; facts: DnsFacts } {
  const mine = [...host.ipv4, ...host.ipv6].some((a) => sameAddress(a, ip));
  return {
    result: mine || !host.known
      ? check('dns', 'skip', `${ip} is an IP address: there is no DNS record to check.`)
      : check('dns', 'fail', `${ip} is not this host's public address (${[...host.ipv4, ...host.ipv6].join(', ')}), so the CA will connect to another machine.`, [], "Ask for a certificate for this host's own address."),
    facts: { addresses: [ip], pointsHere: mine, zoneAnswers: false },
  };
}
