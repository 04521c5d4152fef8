import { classifyAddress, isCloudflareAddress, sameAddress } from './addresses';
import type { AddressFacts } from './address-check';
import { AuthoritativeResult, cnameLine, DnsLookup, describeServer, RecursiveAnswer } from './lookup';
import { formatDnsServer } from '../dns/transport';
import type { QueryType } from './resolver';
import { check, CheckResult } from './types';
import { aaaaNotThisHost, aNotThisHost, dnsServfail, nameDoesNotExist } from './wording';

/**
 * Check 3: what DNS says about the name, asked of its authoritative servers (the delegation
 * walk) and of the recursive resolver, compared with this host's public addresses.
 */
export interface DnsFacts {
  /** Addresses the name resolves to (authoritative view when there is one). */
  addresses: string[];
  /** Every A/AAAA points at this host: the CA's connections for http-01 / tls-alpn-01 arrive here. */
  pointsHere: boolean;
  /** The zone exists and answers: dns-01 can publish there. */
  zoneAnswers: boolean;
}

interface Side {
  rcode: string;
  records: string[];
  chain: string[];
}

function fromRecursive(r: RecursiveAnswer): Side {
  return { rcode: r.rcode, records: r.records.map((x) => x.data), chain: r.chain.map(cnameLine) };
}

function fromAuthoritative(r: AuthoritativeResult): Side | undefined {
  return r.ok ? { rcode: r.rcode, records: r.records.map((x) => x.data), chain: r.chain.map(cnameLine) } : undefined;
}

async function safeRecursive(lookup: DnsLookup, name: string, type: QueryType): Promise<RecursiveAnswer | Error> {
  try {
    return await lookup.recursive(name, type);
  } catch (e) {
    return e as Error;
  }
}

export async function checkDns(
  lookup: DnsLookup,
  name: string,
  host: AddressFacts,
  caName: string,
): Promise<{ result: CheckResult; facts: DnsFacts }> {
  if (name.startsWith('*.')) return checkWildcardZone(lookup, name);

  const [rA, rAAAA, aA, aAAAA] = await Promise.all([
    safeRecursive(lookup, name, 'A'),
    safeRecursive(lookup, name, 'AAAA'),
    lookup.authoritative(name, 'A'),
    lookup.authoritative(name, 'AAAA'),
  ]);
  const evidence: string[] = [];
    const none: DnsFacts = { addresses: [], pointsHere: false, zoneAnswers: false };

  // A resolver that answers nothing at all means the check cannot run: that is an error, not a finding.
  if (rA instanceof Error) throw rA;
  if (rAAAA instanceof Error) throw rAAAA;
  const resolverName = formatDnsServer(rA.server);
  const rec = { A: fromRecursive(rA), AAAA: fromRecursive(rAAAA) };
  const auth = { A: fromAuthoritative(aA), AAAA: fromAuthoritative(aAAAA) };

  for (const [label, side] of [['resolver ' + resolverName, rec], ['authoritative', auth]] as const) {
    for (const t of ['A', 'AAAA'] as const) {
      const s = side[t];
      if (!s) continue;
      evidence.push(...s.chain.map((c) => `${c} (${label})`));
      evidence.push(`${t} ${name}: ${s.rcode === 'NOERROR' ? s.records.join(', ') || 'none' : s.rcode} (${label})`);
    }
  }
  if (aA.ok) evidence.push(`authoritative servers of ${aA.zone}: ${aA.servers.map(describeServer).join(', ')}`);
  else evidence.push(`authoritative view unavailable: ${aA.reason}`, ...aA.evidence);
  // De-duplicate CNAME lines that both views report.
  const ev = [...new Set(evidence)];

  if (rec.A.rcode === 'SERVFAIL' || rec.AAAA.rcode === 'SERVFAIL') {
    const f = dnsServfail(name, `the resolver ${resolverName}`);
    const why = aA.ok ? [] : [`The authoritative servers could not be asked either: ${aA.reason}.`];
    return { result: check('dns', 'fail', [f.summary, ...why].join(' '), ev, f.fix), facts: none };
  }
  if (!aA.ok && !aA.reason.includes('--resolver') && rec.A.rcode !== 'NOERROR') {
    return {
      result: check('dns', 'fail', `The authoritative servers of ${name} cannot be asked: ${aA.reason}. The CA's lookup will fail.`, ev,
        "Check the domain's NS records at the registrar and that each name server answers for the zone."),
      facts: none,
    };
  }
  if (rec.A.rcode === 'NXDOMAIN' && (!auth.A || auth.A.rcode === 'NXDOMAIN')) {
    const f = nameDoesNotExist(name);
    return { result: check('dns', 'fail', f.summary, ev, f.fix), facts: { ...none, zoneAnswers: true } };
  }

  // The authoritative view is what the CA will see once caches expire; prefer it.
  const final = { A: auth.A ?? rec.A, AAAA: auth.AAAA ?? rec.AAAA };
  const addresses = [...final.A.records, ...final.AAAA.records];
  const fails: { summary: string; fix: string }[] = [];
  const warns: { summary: string; fix: string }[] = [];

  if (addresses.length === 0) {
    fails.push({
      summary: `${name} has no A or AAAA record${final.A.chain.length ? ' at the end of its CNAME chain' : ''}, so the CA cannot connect to it.`,
      fix: `Create an A record for ${name} pointing to this host's public address${host.ipv4.length ? ` ${host.ipv4.join(', ')}` : ''} (dns-01 works without one).`,
    });
  }
  let pointsHere = addresses.length > 0;
  const compare = (ip: string, family: 4 | 6) => {
    if (isCloudflareAddress(ip)) {
      pointsHere = false;
      return; // the cdn check explains this one
    }
    const mine = family === 4 ? host.ipv4 : host.ipv6;
    if (mine.some((m) => sameAddress(m, ip))) return;
    pointsHere = false;
    const kind = classifyAddress(ip);
    if (kind !== 'public') {
      fails.push({
        summary: `${name} has an ${family === 4 ? 'A' : 'AAAA'} record ${ip}, a ${kind} address: the CA cannot reach it from the internet.`,
        fix: `Point the record at this host's public address${mine.length ? ` ${mine.join(', ')}` : ''}, or use dns-01, which works for names that only resolve inside your network.`,
      });
      return;
    }
    if (!host.known) {
      warns.push({
        summary: `${name} points at ${ip}; whether that is this host is unknown because its public address could not be found.`,
        fix: 'Give this host\'s public address with --public-ip.',
      });
      return;
    }
    fails.push(family === 6 ? aaaaNotThisHost(name, ip, caName, host.ipv6) : aNotThisHost(name, ip, host.ipv4));
  };
  for (const ip of final.A.records) compare(ip, 4);
  for (const ip of final.AAAA.records) compare(ip, 6);

  const set = (s: Side) => `${s.rcode} ${[...s.records].sort().join(',')}`;
  for (const t of ['A', 'AAAA'] as const) {
    const a = auth[t];
    if (a && set(a) !== set(rec[t])) {
      warns.push({
        summary: `The resolver and the authoritative servers disagree about ${t} ${name} (resolver: ${rec[t].records.join(', ') || rec[t].rcode}; authoritative: ${a.records.join(', ') || a.rcode}): a recent change is still propagating.`,
        fix: 'Wait for the old record\'s TTL to pass before issuing; the CA may still see the old answer.',
      });
    }
  }
  for (const r of [aA, aAAAA]) {
    if (r.ok && r.disagreements.length) {
      warns.push({
        summary: `The authoritative servers of ${r.zone} give different answers for ${name}: ${r.disagreements.join('; ')}.`,
        fix: 'Make every name server of the zone serve the same records (a secondary that did not pick up a change, or one that does not answer).',
      });
    }
  }

  const facts: DnsFacts = { addresses, pointsHere: pointsHere && fails.length === 0, zoneAnswers: true };
  const chain = final.A.chain.length ? ` via ${final.A.chain.length === 1 ? 'a CNAME' : `${final.A.chain.length} CNAMEs`}` : '';
  if (fails.length || warns.length) {
    const all = [...fails, ...warns];
    return {
      result: check('dns', fails.length ? 'fail' : 'warn', all.map((f) => f.summary).join(' '), ev, [...new Set(all.map((f) => f.fix))].join(' ')),
      facts,
    };
  }
  const v4 = final.A.records.length ? `A ${final.A.records.join(', ')}` : 'no A record';
  const v6 = final.AAAA.records.length ? `AAAA ${final.AAAA.records.join(', ')}` : 'no AAAA record';
  return { result: check('dns', 'pass', `${name} resolves to this host${chain} (${v4}, ${v6}).`, ev), facts };
}

async function checkWildcardZone(lookup: DnsLookup, name: string): Promise<{ result: CheckResult; facts: DnsFacts }> {
  const base = name.slice(2);
  const target = `_acme-challenge.${base}`;
  const zone = await lookup.zoneOf(target);
  const none: DnsFacts = { addresses: [], pointsHere: false, zoneAnswers: false };
  if (zone.ok) {
    return {
      result: check(
        'dns',
        'pass',
        `The dns-01 record for ${name} goes to ${target}, in the zone ${zone.zone}, which answers.`,
        [`authoritative servers of ${zone.zone}: ${zone.servers.map(describeServer).join(', ')}`],
      ),
      facts: { ...none, zoneAnswers: true },
    };
  }
  let soa;
  try {
    soa = await lookup.recursive(base, 'SOA');
  } catch (e) {
    soa = undefined;
    zone.evidence.push(`resolver: ${(e as Error).message}`);
  }
  if (soa && (soa.rcode === 'NOERROR' || soa.rcode === 'NXDOMAIN')) {
    return {
      result: check('dns', 'pass', `The dns-01 record for ${name} goes to ${target}; the resolver finds its zone.`, [...zone.evidence, `SOA ${base}: ${soa.rcode} (resolver)`]),
      facts: { ...none, zoneAnswers: true },
    };
  }
  const f = dnsServfail(base, 'its name servers');
  return { result: check('dns', 'fail', `${f.summary} (${zone.reason})`, zone.evidence, f.fix), facts: none };
}
