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
/**
 * 128 is the critical flag. Let's Encrypt counts 1 as critical too: RFC 6844 numbered the
 * bits from the most significant, so many people set 1 meaning "critical", and a CA that
 * honours that refuses an unknown property flagged 1.
 */
const CRITICAL_FLAGS = 128 | 1;

// RFC 8659 §4.2: a parameter is tag=value; a tag is letters and digits with inner hyphens,
// a value any printable ASCII but ";" and spaces. Only spaces and tabs surround them.
const PARAM_TAG = /^[A-Za-z0-9](?:-*[A-Za-z0-9])*$/;
const PARAM_VALUE = /^[\x21-\x3a\x3c-\x7e]*$/;
const wspTrim = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '');

export interface IssueValue {
  /** Empty: "no CA may issue". */
  issuer: string;
  params: Record<string, string>;
  /**
   * Why the parameters break the grammar. Let's Encrypt reads such a record as allowing
   * nothing rather than dropping the bad parameter (which would widen what it allows).
   */
  malformed?: string;
}

/** `letsencrypt.org; accounturi=https://…; validationmethods=dns-01` → parts. */
export function parseIssueValue(value: string): IssueValue {
  const [issuerPart, ...rest] = value.split(';');
  const issuer = wspTrim(issuerPart).toLowerCase();
  const params: Record<string, string> = {};
  const bad = (malformed: string): IssueValue => ({ issuer, params, malformed });
  // `issuer;` with nothing after is allowed; otherwise every part after a ";" is a parameter.
  const parts = rest.length === 1 && wspTrim(rest[0]) === '' ? [] : rest;
  for (const part of parts) {
    const eq = part.indexOf('=');
    const tag = wspTrim(eq < 0 ? part : part.slice(0, eq));
    const val = wspTrim(part.slice(eq + 1));
    if (eq < 0) return bad(tag ? `the parameter "${tag}" has no "=" and value` : 'it has an empty parameter (two ";" in a row, or a ";" after the last parameter)');
    if (!PARAM_TAG.test(tag)) return bad(`"${tag}" is not a parameter name (letters, digits and hyphens only)`);
    if (!PARAM_VALUE.test(val)) return bad(`the value of ${tag} contains a space or a character a value may not hold ("${val}")`);
    params[tag.toLowerCase()] = val;
  }
  // Empty, these match no account and no challenge: the record allows nothing either way.
  for (const tag of ['accounturi', 'validationmethods']) {
    if (params[tag] === '') return bad(`the parameter ${tag} has an empty value`);
  }
  return { issuer, params };
}

/** The record's value in the grammar, for the fix: what the user most likely meant. */
function wellFormed(value: string, accountUrl: string | undefined): string {
  const [issuerPart, ...rest] = value.split(';');
  const params = rest.map((p) => p.trim()).filter(Boolean).map((p) => {
    const eq = p.indexOf('=');
    const tag = (eq < 0 ? p : p.slice(0, eq)).replace(/[^A-Za-z0-9-]/g, '').toLowerCase();
    const words = eq < 0 ? [] : p.slice(eq + 1).split(/[\s,]+/).filter(Boolean);
    const val = tag === 'validationmethods' ? words.join(',') : words.join('');
    return `${tag}=${val || (tag === 'accounturi' && accountUrl) || '<value>'}`;
  });
  return [issuerPart.trim(), ...params].join('; ');
}

export interface CaaVerdict {
  allowed: boolean;
  /** Why not, or what restricts it. */
  reason: string;
  allowedChallenges: ChallengeType[];
  /** The account URLs the records require, when any record for this CA names one. */
  accountUris: string[];
  issuers: string[];
  /** The property that applies: issuewild for a wildcard when there is one, otherwise issue. */
  property: 'issue' | 'issuewild';
  /** An unknown property flagged critical: it forbids every CA. */
  critical?: CaaValue;
  /** Records of that property naming this CA that break the grammar: they allow nothing. */
  malformed: { value: string; why: string }[];
}

/** RFC 8659 §4 + RFC 8657: may this CA (and account) issue for this name, and by which challenges? */
export function evaluateCaa(records: CaaValue[], ca: CaaCa, wildcard: boolean): CaaVerdict {
  const critical = records.find((r) => (r.flags & CRITICAL_FLAGS) !== 0 && !KNOWN_TAGS.has(r.tag));
  const issue = records.filter((r) => r.tag === 'issue');
  const issuewild = records.filter((r) => r.tag === 'issuewild');
  const property: CaaVerdict['property'] = wildcard && issuewild.length > 0 ? 'issuewild' : 'issue';
  const relevant = property === 'issuewild' ? issuewild : issue;
  const parsed = relevant.map((r) => ({ value: r.value, ...parseIssueValue(r.value) }));
  const issuers = [...new Set(parsed.map((v) => v.issuer).filter(Boolean))];
  const ids = ca.identities.map((i) => i.toLowerCase());
  const naming = parsed.filter((v) => v.issuer && ids.includes(v.issuer));
  const malformed = naming.flatMap((v) => (v.malformed ? [{ value: v.value, why: v.malformed }] : []));
  const base = { accountUris: [] as string[], issuers, property, malformed };
  if (critical) {
    return { ...base, allowed: false, reason: `the critical, unknown property "${critical.tag}" forbids every CA`, allowedChallenges: [], critical };
  }
  if (relevant.length === 0) {
    return { ...base, allowed: true, reason: `no ${wildcard ? 'issuewild or issue' : 'issue'} property restricts CAs`, allowedChallenges: ALL };
  }
  const mine = naming.filter((v) => !v.malformed);
  if (mine.length === 0) {
    return { ...base, allowed: false, reason: malformed.length ? 'the records naming this CA are malformed' : 'no property names this CA', allowedChallenges: [] };
  }
  const accountUris = [...new Set(mine.map((v) => v.params.accounturi).filter((u): u is string => u !== undefined))];
  const usable = mine.filter((v) => v.params.accounturi === undefined || !ca.accountUrl || v.params.accounturi === ca.accountUrl);
  if (usable.length === 0) {
    return {
      ...base,
      allowed: false,
      reason: `the records allow only the account${accountUris.length > 1 ? 's' : ''} ${accountUris.join(', ')}, and this host's account is ${ca.accountUrl}`,
      allowedChallenges: [],
      accountUris,
    };
  }
  const allowedChallenges = ALL.filter((c) =>
    usable.some((v) => v.params.validationmethods === undefined || v.params.validationmethods.split(',').includes(c)),
  );
  if (allowedChallenges.length === 0) {
    return { ...base, allowed: false, reason: 'the validationmethods parameter allows no challenge Homeport uses', allowedChallenges, accountUris };
  }
  return { ...base, allowed: true, reason: 'a property names this CA', allowedChallenges, accountUris };
}

export interface CaaLookup {
  owner: string | null;
  records: CaaValue[];
  evidence: string[];
  /** A lookup failed (SERVFAIL, no answer): CAs refuse to issue then. */
  failure?: string;
  /**
   * The resolver refused the question for this name (it answers only for some zones, e.g. an
   * authoritative server given as --resolver): that says nothing about what the CA will read.
   */
  refused?: string;
}

/** Climbs from the name (a wildcard's base) up to and including the TLD (RFC 8659 §3); stops at the first CAA set. */
export async function findRelevantCaa(lookup: DnsLookup, name: string): Promise<CaaLookup> {
  const labels = name.replace(/^\*\./, '').split('.');
  const evidence: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    const at = labels.slice(i).join('.');
    let answer;
    try {
      answer = await lookup.recursive(at, 'CAA');
    } catch (e) {
      // Unreachable resolver: the check cannot run (the dns check reports the same).
      if (isHomeportError(e) && e.code === 'preflight.dns-unreachable') throw e;
      return { owner: null, records: [], evidence, failure: `the CAA lookup of ${at} failed (${(e as Error).message})` };
    }
    if (answer.rcode === 'REFUSED') {
      evidence.push(`CAA ${at}: REFUSED`);
      return { owner: null, records: [], evidence, refused: at };
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
  if (found.refused) {
    return {
      result: check(
        'caa',
        'warn',
        `The resolver refused to answer the CAA question for ${found.refused}, so Homeport could not check whether a CAA record there restricts CAs for ${name}; the CA's own resolver will read it.`,
        found.evidence,
        'To check it, use a resolver that answers for every domain, such as your router or a public resolver (--resolver, or resolver in config.json).',
      ),
      facts: { allowedChallenges: ALL, forbidden: false, owner: null, records: [] },
    };
  }
  if (!found.owner) {
    return {
      result: check('caa', 'pass', `No CAA record applies to ${name}: every CA may issue.`, found.evidence),
      facts: { allowedChallenges: ALL, forbidden: false, owner: null, records: [] },
    };
  }
  // Without its CAA identity the records cannot be matched to this CA: what forbids every CA
  // is a warning (a private CA may not check CAA at all), the rest is for the user to compare.
  const known = ca.identities.length > 0;
  const v = evaluateCaa(found.records, ca, wildcard);
  const facts = known
    ? { allowedChallenges: v.allowedChallenges, forbidden: !v.allowed, owner: found.owner, records: found.records }
    : { allowedChallenges: ALL, forbidden: false, owner: found.owner, records: found.records };
  const unlessNoCaa = `${ca.displayName} can issue only if it does not check CAA, as some private CAs do.`;
  if (v.critical) {
    const c = v.critical;
    const flag1 = c.flags & 128 ? '' : " (1 is not the critical flag, but Let's Encrypt counts it as one)";
    const summary = `The CAA record ${c.flags} ${c.tag} "${c.value}" at ${found.owner} marks the unknown property "${c.tag}" critical${flag1}, which forbids every CA to issue for ${name}`;
    const fix = 'Remove that record, or set its flags to 0 so that CAs may ignore it.';
    return {
      result: known ? conclusiveFail(check('caa', 'fail', `${summary}, ${ca.displayName} included.`, found.evidence, fix)) : check('caa', 'warn', `${summary}: ${unlessNoCaa}`, found.evidence, fix),
      facts,
    };
  }
  if (!known) {
    if (!v.allowed && v.issuers.length === 0) {
      return {
        result: check(
          'caa',
          'warn',
          `The CAA records at ${found.owner} forbid every CA to issue for ${name} (${v.property} ";"): ${unlessNoCaa}`,
          found.evidence,
          `If ${ca.displayName} checks CAA, add a CAA record at ${found.owner}: 0 ${v.property} "<its CAA domain>" (its documentation names it).`,
        ),
        facts,
      };
    }
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
      facts,
    };
  }
  const identity = ca.identities[0];
  const malformed = v.malformed[0];
  const rewrite = malformed && `0 ${v.property} "${wellFormed(malformed.value, ca.accountUrl)}"`;
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
    if (malformed) {
      return {
        result: conclusiveFail(check(
          'caa',
          'fail',
          `The CAA record ${v.property} "${malformed.value}" at ${found.owner} names ${ca.displayName} but is malformed: ${malformed.why}. A CA reads a malformed record as allowing nothing, so ${ca.displayName} will refuse to issue for ${name}.`,
          found.evidence,
          `Write it as ${rewrite}: each parameter is name=value, parameters are separated by ";", and a value holds no spaces (list several challenges with commas).`,
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
  const noAccount = v.accountUris.length > 0 && !ca.accountUrl;
  if (noAccount) notes.push(`only for the account ${v.accountUris.join(', ')} (accounturi)`);
  const fixes = [
    ...(noAccount ? [`This host has no account at ${ca.displayName} yet, so Homeport cannot tell whether it is ${v.accountUris.join(', ')}: issue with that account, or add a record for the new account once it exists.`] : []),
    ...(malformed ? [`Write the malformed record as ${rewrite}.`] : []),
  ];
  return {
    result: check(
      'caa',
      fixes.length ? 'warn' : 'pass',
      `The CAA records at ${found.owner} allow ${ca.displayName} (${identity}) to issue for ${name}${notes.length ? `, ${notes.join(' and ')}` : ''}.` +
        (malformed ? ` The record ${v.property} "${malformed.value}" is malformed (${malformed.why}), so it allows nothing.` : ''),
      found.evidence,
      fixes.join(' ') || null,
    ),
    facts,
  };
}
