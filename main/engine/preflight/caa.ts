import type { ChallengeType } from '../certs/types';
import { DnsLookup, cnameLine } from './lookup';
import type { CaaValue, DnsRecord } from './resolver';
import { isHomeportError } from '../errors';
import { check, CheckResult, conclusiveFail } from './types';
import { caaForbids } from './wording';

/**
 * Check 4: CAA (RFC 8659). The relevant record set is the first one found climbing from the
 * name towards the root, each lookup following CNAMEs as any DNS lookup does; its `issue`
 * (or, for a wildcard, `issuewild`) properties say which CAs may issue, and the RFC 8657
 * parameters narrow that to an account (`accounturi`) and to challenges (`validationmethods`).
 */
export interface CaaCa {
  displayName: string;
  /** The issuer domain names that allow this CA; empty when the CA does not say. */
  identities: string[];
  /** This host's account URL at the CA, when one exists. */
  accountUrl?: string;
}

export interface CaaFacts {
  /** Challenges the CAA records permit this CA and account to use (all three when unrestricted). */
  allowedChallenges: ChallengeType[];
  /** The records forbid this CA outright (or the lookup failed, which CAs treat the same). */
  forbidden: boolean;
  /** Where the relevant set was found, if anywhere. */
  owner: string | null;
  records: CaaValue[];
}

const ALL: ChallengeType[] = ['http-01', 'tls-alpn-01', 'dns-01'];
const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone', 'issuemail', 'issuevmc']);

export interface IssueValue {
  /** Empty: "no CA may issue". */
  issuer: string;
  params: Record<string, string>;
}

/** `letsencrypt.org; accounturi=https://…; validationmethods=dns-01` → parts. */
export function parseIssueValue(value: string): IssueValue {
  const [issuerPart, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const m = /^\s*([A-Za-z0-9]+)\s*=\s*(\S*)\s*$/.exec(p);
    if (m) params[m[1].toLowerCase()] = m[2];
  }
  return { issuer: issuerPart.trim().toLowerCase(), params };
}

export interface CaaVerdict {
  allowed: boolean;
  /** Why not, or what restricts it. */
  reason: string;
  allowedChallenges: ChallengeType[];
  /** The account URLs the records require, when any record for this CA names one. */
  accountUris: string[];
  issuers: string[];
}

/** RFC 8659 §4 + RFC 8657: may this CA (and account) issue for this name, and by which challenges? */
export function evaluateCaa(records: CaaValue[], ca: CaaCa, wildcard: boolean): CaaVerdict {
  const critical = records.find((r) => (r.flags & 128) !== 0 && !KNOWN_TAGS.has(r.tag));
  const issue = records.filter((r) => r.tag === 'issue');
  const issuewild = records.filter((r) => r.tag === 'issuewild');
  const relevant = wildcard && issuewild.length > 0 ? issuewild : issue;
  const issuers = [...new Set(relevant.map((r) => parseIssueValue(r.value).issuer).filter(Boolean))];
  if (critical) {
    return { allowed: false, reason: `the critical, unknown property "${critical.tag}" forbids every CA`, allowedChallenges: [], accountUris: [], issuers };
  }
  if (relevant.length === 0) {
    return { allowed: true, reason: `no ${wildcard ? 'issuewild or issue' : 'issue'} property restricts CAs`, allowedChallenges: ALL, accountUris: [], issuers };
  }
  const ids = ca.identities.map((i) => i.toLowerCase());
  const mine = relevant.map((r) => parseIssueValue(r.value)).filter((v) => v.issuer && ids.includes(v.issuer));
  if (mine.length === 0) {
    return { allowed: false, reason: 'no property names this CA', allowedChallenges: [], accountUris: [], issuers };
  }
  const accountUris = [...new Set(mine.map((v) => v.params.accounturi).filter((u): u is string => Boolean(u)))];
  const usable = mine.filter((v) => !v.params.accounturi || !ca.accountUrl || v.params.accounturi === ca.accountUrl);
  if (usable.length === 0) {
    return {
      allowed: false,
      reason: `the records allow only the account${accountUris.length > 1 ? 's' : ''} ${accountUris.join(', ')}, and this host's account is ${ca.accountUrl}`,
      allowedChallenges: [],
      accountUris,
      issuers,
    };
  }
  const allowedChallenges = ALL.filter((c) =>
    usable.some((v) => !v.params.validationmethods || v.params.validationmethods.split(',').map((m) => m.trim()).includes(c)),
  );
  if (allowedChallenges.length === 0) {
    return { allowed: false, reason: 'the validationmethods parameter allows no challenge Homeport uses', allowedChallenges, accountUris, issuers };
  }
  return { allowed: true, reason: 'a property names this CA', allowedChallenges, accountUris, issuers };
}

export interface CaaLookup {
  owner: string | null;
  records: CaaValue[];
  evidence: string[];
  /** A lookup failed (SERVFAIL, no answer): CAs refuse to issue then. */
  failure?: string;
}

/** Climbs from the name (a wildcard's base) to the TLD; stops at the first CAA set. */
export async function findRelevantCaa(lookup: DnsLookup, name: string): Promise<CaaLookup> {
  const labels = name.replace(/^\*\./, '').split('.');
  const evidence: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) {
    const at = labels.slice(i).join('.');
    let answer;
    try {
      answer = await lookup.recursive(at, 'CAA');
    } catch (e) {
      // Unreachable resolver: the check cannot run (the dns check reports the same).
      if (isHomeportError(e) && e.code === 'preflight.dns-unreachable') throw e;
      return { owner: null, records: [], evidence, failure: `the CAA lookup of ${at} failed (${(e as Error).message})` };
    }
    if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') {
      evidence.push(`CAA ${at}: ${answer.rcode}`);
      return { owner: null, records: [], evidence, failure: `the CAA lookup of ${at} answered ${answer.rcode}` };
    }
    evidence.push(...answer.chain.map(cnameLine));
    const caa = answer.records.filter((r: DnsRecord) => r.caa);
    if (caa.length) {
      const owner = answer.chain.length ? `${at} (via CNAME to ${caa[0].name})` : at;
      for (const r of caa) evidence.push(`CAA ${r.name}: ${r.data}`);
      return { owner, records: caa.map((r) => r.caa!), evidence };
    }
    evidence.push(`no CAA at ${at}${answer.rcode === 'NXDOMAIN' ? ' (NXDOMAIN)' : ''}`);
  }
  return { owner: null, records: [], evidence };
}

export async function checkCaa(
  lookup: DnsLookup,
  name: string,
  ca: CaaCa,
): Promise<{ result: CheckResult; facts: CaaFacts }> {
  const wildcard = name.startsWith('*.');
  const found = await findRelevantCaa(lookup, name);
  if (found.failure) {
    return {
      result: check(
        'caa',
        'fail',
        `The CAA lookup for ${name} failed: ${found.failure}. CAs refuse to issue when they cannot read CAA records.`,
        found.evidence,
        "Make every name server of the domain answer CAA queries (some old DNS servers and broken DNSSEC return errors for the CAA type); a DNSSEC analyzer shows the failing step.",
      ),
      facts: { allowedChallenges: [], forbidden: true, owner: null, records: [] },
    };
  }
  if (!found.owner) {
    return {
      result: check('caa', 'pass', `No CAA record applies to ${name}: every CA may issue.`, found.evidence),
      facts: { allowedChallenges: ALL, forbidden: false, owner: null, records: [] },
    };
  }
  if (ca.identities.length === 0) {
    const v = evaluateCaa(found.records, { ...ca, identities: [] }, wildcard);
    return {
      result: check(
        'caa',
        v.issuers.length ? 'warn' : 'pass',
        v.issuers.length
          ? `CAA records at ${found.owner} allow only ${v.issuers.join(', ')}; ${ca.displayName} does not publish its CAA identity, so Homeport cannot tell whether it is among them.`
          : `The CAA records at ${found.owner} do not restrict CAs.`,
        found.evidence,
        v.issuers.length ? `Make sure one of ${v.issuers.join(', ')} is the CAA identity of ${ca.displayName} (its documentation names it).` : null,
      ),
      facts: { allowedChallenges: ALL, forbidden: false, owner: found.owner, records: found.records },
    };
  }
  const v = evaluateCaa(found.records, ca, wildcard);
  const facts = { allowedChallenges: v.allowedChallenges, forbidden: !v.allowed, owner: found.owner, records: found.records };
  const identity = ca.identities[0];
  if (!v.allowed) {
    if (v.accountUris.length && v.issuers.some((i) => ca.identities.includes(i))) {
      return {
        result: conclusiveFail(check(
          'caa',
          'fail',
          `The CAA records at ${found.owner} allow ${ca.displayName} only for the account ${v.accountUris.join(', ')}, and this host's account is ${ca.accountUrl}.`,
          found.evidence,
          `Add a CAA record at ${found.owner}: 0 ${wildcard ? 'issuewild' : 'issue'} "${identity}; accounturi=${ca.accountUrl}", or use the account the record names.`,
        )),
        facts,
      };
    }
    if (v.issuers.some((i) => ca.identities.includes(i))) {
      return {
        result: conclusiveFail(check('caa', 'fail', `The CAA records at ${found.owner} name ${ca.displayName}, but ${v.reason}.`, found.evidence,
          `Add validationmethods=http-01,tls-alpn-01,dns-01 (or the one you use) to the CAA record for ${identity}.`)),
        facts,
      };
    }
    const w = caaForbids(name, ca.displayName, found.owner, v.issuers, identity, wildcard);
    return { result: conclusiveFail(check('caa', 'fail', w.summary, found.evidence, w.fix)), facts };
  }
  const notes: string[] = [];
  if (v.allowedChallenges.length < ALL.length) notes.push(`only with ${v.allowedChallenges.join(', ')} (validationmethods)`);
  if (v.accountUris.length && !ca.accountUrl) notes.push(`only for the account ${v.accountUris.join(', ')} (accounturi)`);
  const status = v.accountUris.length && !ca.accountUrl ? 'warn' : 'pass';
  return {
    result: check(
      'caa',
      status,
      `The CAA records at ${found.owner} allow ${ca.displayName} (${identity}) to issue for ${name}${notes.length ? `, ${notes.join(' and ')}` : ''}.`,
      found.evidence,
      status === 'warn'
        ? `This host has no account at ${ca.displayName} yet, so Homeport cannot tell whether it is ${v.accountUris.join(', ')}: issue with that account, or add a record for the new account once it exists.`
        : null,
    ),
    facts,
  };
}
