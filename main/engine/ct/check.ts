import { HomeportError } from '../errors';
import { ApplicabilityOverride, decideApplicability } from './applicability';
import { CtLog, LogList, LogStateName, logKey, logListAgeWarning, stateAt } from './log-list';
import { PolicyInput, PolicySct, PolicyVerdict, chromePolicy, firefoxPolicy, shortLogName } from './policy';
import { applePolicy } from './policy-apple';
import { precertSignedEntry } from './precert';
import { Sct, extractEmbeddedScts, sctLeafIndex } from './sct';
import { verifySctSignature } from './verify';
import { ParsedCert, bytesOf, parseCertificate } from './x509';

/**
 * The full offline CT verdict for one certificate: SCTs parsed and verified, each browser's
 * policy, whether CT applies at all, and from when every browser accepts it.
 */
export interface LogLists {
  /** Chrome's list; Firefox ships the same logs. */
  chrome: LogList;
  /** Apple's list, when loaded; otherwise Apple is judged with Chrome's. */
  apple?: LogList;
}

export interface CtCheckOptions {
  logLists: LogLists;
  /** Judge as of this time (ms): log states, and whether it is ready yet. */
  at: number;
  /** Added to the moment every policy is met (see readiness.ts). */
  marginMs: number;
  applicability?: ApplicabilityOverride;
}

export interface SctReport {
  sct: Sct;
  logId: string;
  timestamp: number;
  signatureValid: boolean;
  /** Why the signature could not be confirmed. */
  signatureProblem?: string;
  leafIndex?: number;
  log: { name: string; operator: string; state: LogStateName | null; kind: CtLog['kind']; url: string } | null;
}

export type BrowserName = 'chrome' | 'firefox' | 'apple';

export interface CtVerdict {
  serial: string;
  notBefore: number;
  notAfter: number;
  applicable: boolean;
  applicability: string;
  scts: SctReport[];
  /** Each browser's policy once every SCT timestamp has passed, log states as of `at`. */
  policies: Record<BrowserName, PolicyVerdict>;
  /** First moment every policy is met by a browser with a correct clock (no margin), log states as of `at`; null = never. */
  compliantFrom: number | null;
  readyAt: number | null;
  ready: boolean;
  reason: string;
  warnings: string[];
}

const LABEL: Record<BrowserName, string> = { chrome: 'Chrome', firefox: 'Firefox', apple: 'Apple' };
const POLICIES: [BrowserName, (i: PolicyInput) => PolicyVerdict][] = [
  ['chrome', chromePolicy],
  ['firefox', firefoxPolicy],
  ['apple', applePolicy],
];

function listFor(browser: BrowserName, lists: LogLists): LogList {
  return browser === 'apple' ? (lists.apple ?? lists.chrome) : lists.chrome;
}

const iso = (t: number) => new Date(t).toISOString();

/** `chain` holds the issuer first, then any further intermediates (and optionally the root). */
export function checkCertificate(leaf: Uint8Array, chain: Uint8Array[], opts: CtCheckOptions): CtVerdict {
  return withinValidity(ctVerdict(leaf, chain, opts), opts.at);
}

/**
 * Browsers reject a certificate outside its validity whatever its SCTs say: expired (or expiring
 * before it would be ready) means never ready; not yet valid means not ready before notBefore.
 */
function withinValidity(v: CtVerdict, at: number): CtVerdict {
  const renew = 'Renew it (homeport renew <name>) or issue a new one.';
  if (at > v.notAfter) {
    return { ...v, ready: false, readyAt: null, reason: `Expired on ${iso(v.notAfter)}: no browser accepts it any more. ${renew}` };
  }
  if (v.readyAt !== null && v.readyAt > v.notAfter) {
    return { ...v, ready: false, readyAt: null, reason: `Never acceptable: it expires on ${iso(v.notAfter)}, before every browser would accept it (${iso(v.readyAt)}). ${renew}` };
  }
  if (at < v.notBefore) {
    return { ...v, ready: false, reason: `Not valid yet: its validity starts ${iso(v.notBefore)}, so no browser accepts it before then. ${v.reason}` };
  }
  return v;
}

function ctVerdict(leaf: Uint8Array, chain: Uint8Array[], opts: CtCheckOptions): CtVerdict {
  const cert = parseCertificate(leaf);
  const scts = extractEmbeddedScts(cert);
  const { logLists, at, marginMs } = opts;
  if (scts.length > 0 && chain.length === 0) {
    throw new HomeportError('ct.issuer-needed', "The certificate's SCTs can only be checked with its issuer's certificate.", {
      fix: 'Give the issuer with --issuer <pem>, or use fullchain.pem (leaf followed by its chain).',
    });
  }
  const entry = scts.length > 0 ? precertSignedEntry(cert, issuerOf(cert, chain)) : undefined;

  const reports: SctReport[] = scts.map((sct) => {
    const log = logLists.chrome.logs.get(sct.logIdBase64) ?? logLists.apple?.logs.get(sct.logIdBase64);
    const check = log
      ? verifySctSignature(sct, entry!, logKey(log))
      : { valid: false, reason: 'the log is in no log list, so its key is unknown' };
    let leafIndex: number | undefined;
    try {
      leafIndex = sctLeafIndex(sct);
    } catch {
      leafIndex = undefined; // a malformed extension only costs the index; the signature check covers the bytes
    }
    return {
      sct,
      logId: sct.logIdBase64,
      timestamp: sct.timestamp,
      signatureValid: check.valid,
      signatureProblem: check.reason,
      leafIndex,
      log: log
        ? { name: log.name, operator: log.operator, state: stateAt(log, at), kind: log.kind, url: log.monitoringUrl ?? log.url }
        : null,
    };
  });
  const policyScts: PolicySct[] = reports.map((r) => ({ sct: r.sct, signatureValid: r.signatureValid }));
  const base = { notBefore: cert.notBefore, notAfter: cert.notAfter, scts: policyScts };
  const policies = Object.fromEntries(
    POLICIES.map(([name, fn]) => [name, fn({ ...base, list: listFor(name, logLists), at })]),
  ) as Record<BrowserName, PolicyVerdict>;

  const compliantFrom = earliestCompliance(base, logLists, at);
  const applicability = decideApplicability(leaf, chain, opts.applicability);
  const warnings = [logLists.chrome, logLists.apple]
    .map((l) => l && logListAgeWarning(l, at))
    .filter((w): w is string => Boolean(w));

  const verdict = { serial: cert.serialHex, notBefore: cert.notBefore, notAfter: cert.notAfter, scts: reports, policies, compliantFrom, warnings };
  if (!applicability.applicable) {
    const readyAt = cert.notBefore + marginMs;
    return {
      ...verdict,
      applicable: false,
      applicability: applicability.reason,
      readyAt,
      ready: at >= readyAt,
      reason: `${applicability.reason} Ready from notBefore ${iso(cert.notBefore)} + ${marginMs / 1000} s margin.`,
    };
  }
  const common = { ...verdict, applicable: true, applicability: applicability.reason };
  if (scts.length === 0) {
    return {
      ...common,
      readyAt: null,
      ready: false,
      reason:
        'Never acceptable: a publicly trusted certificate without embedded SCTs is rejected by Chrome, Safari and Firefox. Ask the CA for a new certificate (its CT logging failed).',
    };
  }
  const failing = POLICIES.filter(([n]) => !policies[n].compliant).map(([n]) => `${LABEL[n]}: ${policies[n].reason}`);
  // A readyAt is a promise to the lifecycle that every browser accepts it from then on: never
  // give one for a certificate some policy rejects with today's log states.
  if (compliantFrom === null || failing.length > 0) {
    return {
      ...common,
      readyAt: null,
      ready: false,
      reason: `Never acceptable to every browser. ${failing.join(' ') || 'Its SCTs never satisfy all policies at the same time.'}`,
    };
  }
  const readyAt = compliantFrom + marginMs;
  const lastSct = reports.filter((r) => r.signatureValid && r.timestamp === compliantFrom)[0];
  const basis = lastSct
    ? `the last SCT needed is stamped ${iso(compliantFrom)} (${shortLogName(logLists.chrome.logs.get(lastSct.logId) ?? null, lastSct.logId)})`
    : `notBefore is ${iso(compliantFrom)}`;
  return {
    ...common,
    readyAt,
    ready: at >= readyAt,
    reason: `Every browser accepts it from ${iso(readyAt)}: ${basis}, plus a ${marginMs / 1000} s margin.`,
  };
}

/** The chain certificate named in the leaf's issuer field (normally the first one). */
function issuerOf(leaf: ParsedCert, chain: Uint8Array[]): Uint8Array {
  const name = bytesOf(leaf, leaf.issuer);
  return (
    chain.find((der) => {
      const c = parseCertificate(der);
      return Buffer.compare(bytesOf(c, c.subject), name) === 0;
    }) ?? chain[0]
  );
}

/**
 * The first moment a browser with a correct clock accepts the certificate under every policy:
 * the candidates are notBefore and each later SCT timestamp, tried in order. Only the clock
 * moves: a browser judges log states by the list it holds when it checks, not by the states
 * of the day an SCT was issued, so the states are always those as of `at`.
 */
function earliestCompliance(base: Pick<PolicyInput, 'notBefore' | 'notAfter' | 'scts'>, lists: LogLists, at: number): number | null {
  const times = new Set<number>([base.notBefore]);
  for (const s of base.scts) if (s.signatureValid && s.sct.timestamp > base.notBefore) times.add(s.sct.timestamp);
  // Firefox runs Chrome's rules on Chrome's list, so its answer is Chrome's: two policies to try.
  const distinct = POLICIES.filter(([name]) => name !== 'firefox');
  for (const t of [...times].sort((a, b) => a - b)) {
    if (distinct.every(([name, fn]) => fn({ ...base, list: listFor(name, lists), at, clock: t }).compliant)) return t;
  }
  return null;
}
