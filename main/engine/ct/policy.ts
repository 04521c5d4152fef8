import { CtLog, LogList, LogStateName, operatorAt, stateAt } from './log-list';
import type { Sct } from './sct';

/**
 * Browser CT policies for embedded SCTs, each a pure function of the certificate's validity,
 * its SCTs (signatures already checked), a log list and the time of the check. Chrome's rules
 * are https://googlechrome.github.io/CertificateTransparency/ct_policy.html as Chromium
 * implements them (chrome_ct_policy_enforcer.cc); Firefox applies the same since 135.
 */
export interface PolicySct {
  sct: Sct;
  signatureValid: boolean;
}

export interface PolicyInput {
  notBefore: number;
  notAfter: number;
  scts: PolicySct[];
  list: LogList;
  /** Log states are judged as of this time. */
  at: number;
  /**
   * The browser's clock: SCTs stamped later than this are rejected (RFC 6962 §5.2). Leave it
   * out to judge the certificate as it will be once every timestamp has passed.
   */
  clock?: number;
}

export interface PolicyVerdict {
  compliant: boolean;
  /** Why it passes or fails, in one or two plain sentences. */
  reason: string;
  /** Base64 log ids of the SCTs that counted towards the requirement. */
  countedLogs: string[];
}

export type SctStanding =
  | { counts: true; log: CtLog; operator: string; state: LogStateName }
  | { counts: false; log: CtLog | null; why: string };

const DAY = 86_400_000;
/** States whose SCTs browsers accept at the time of check ("qualified, usable or read-only"). */
const CURRENT: ReadonlySet<LogStateName> = new Set(['qualified', 'usable', 'readonly']);

export function shortLogName(log: CtLog | null, logId: string): string {
  return log ? log.name : `unknown log ${logId.slice(0, 10)}…`;
}

/**
 * Whether one SCT can count, and why not. `issuance` is the earliest SCT from a log still
 * trusted (Chromium's effective issuance date): a retired log counts only if both the
 * certificate and the SCT predate its retirement.
 */
export function sctStanding(s: PolicySct, input: PolicyInput, issuance: number): SctStanding {
  const { sct } = s;
  const log = input.list.logs.get(sct.logIdBase64) ?? null;
  const name = shortLogName(log, sct.logIdBase64);
  if (!log) return { counts: false, log, why: `${name} is not in the ${input.list.source === 'apple' ? 'Apple' : 'Chrome'} log list` };
  if (!s.signatureValid) return { counts: false, log, why: `the SCT from ${name} has an invalid signature` };
  if (input.clock !== undefined && sct.timestamp > input.clock) {
    return { counts: false, log, why: `the SCT from ${name} is stamped ${new Date(sct.timestamp).toISOString()}, later than the browser's clock` };
  }
  const state = stateAt(log, input.at);
  if (state === 'retired') {
    const retiredAt = log.state!.since;
    if (issuance < retiredAt && sct.timestamp < retiredAt) return { counts: true, log, operator: operatorAt(log, sct.timestamp), state };
    return { counts: false, log, why: `${name} was retired on ${new Date(retiredAt).toISOString().slice(0, 10)}, before this SCT` };
  }
  if (!state || !CURRENT.has(state)) return { counts: false, log, why: `${name} is ${state ?? 'in no state'}, so browsers do not trust it` };
  return { counts: true, log, operator: operatorAt(log, sct.timestamp), state };
}

/** Earliest SCT timestamp among valid SCTs from logs not retired at the time of check. */
export function effectiveIssuance(input: PolicyInput): number {
  let t = Infinity;
  for (const s of input.scts) {
    const log = input.list.logs.get(s.sct.logIdBase64);
    if (!log || !s.signatureValid) continue;
    if (input.clock !== undefined && s.sct.timestamp > input.clock) continue;
    if (stateAt(log, input.at) === 'retired') continue;
    t = Math.min(t, s.sct.timestamp);
  }
  return t;
}

/** Chrome (and Firefox since 135): ≥1 SCT from a current log, N distinct logs, ≥2 operators. */
export function chromePolicy(input: PolicyInput, browser = 'Chrome'): PolicyVerdict {
  const lifetime = input.notAfter - input.notBefore;
  const required = lifetime > 180 * DAY ? 3 : 2;
  const issuance = effectiveIssuance(input);
  const counted = new Map<string, { operator: string; log: CtLog }>();
  const ignored: string[] = [];
  let hasCurrent = false;
  for (const s of input.scts) {
    const st = sctStanding(s, input, issuance);
    if (!st.counts) {
      ignored.push(st.why);
      continue;
    }
    if (CURRENT.has(st.state)) hasCurrent = true;
    if (counted.has(s.sct.logIdBase64)) {
      ignored.push(`a second SCT from ${st.log.name} counts once`);
      continue;
    }
    counted.set(s.sct.logIdBase64, { operator: st.operator, log: st.log });
  }
  const operators = [...new Set([...counted.values()].map((c) => c.operator))];
  const countedLogs = [...counted.keys()];
  const need = `${required} SCTs from distinct logs for a certificate valid ${lifetime > 180 * DAY ? 'more than 180 days' : '180 days or less'}`;
  const also = ignored.length ? ` Not counted: ${ignored.join('; ')}.` : '';
  if (input.scts.length === 0) {
    return { compliant: false, reason: `The certificate has no embedded SCTs; ${browser} needs ${need}.`, countedLogs };
  }
  if (!hasCurrent) {
    return {
      compliant: false,
      reason: `No SCT comes from a log ${browser} trusts today (qualified, usable or read-only).${also}`,
      countedLogs,
    };
  }
  if (counted.size < required) {
    return { compliant: false, reason: `Only ${counted.size} of the ${need} ${browser} requires.${also}`, countedLogs };
  }
  if (operators.length < 2) {
    return {
      compliant: false,
      reason: `All counted SCTs come from logs run by ${operators[0]}; ${browser} requires two different log operators.${also}`,
      countedLogs,
    };
  }
  return {
    compliant: true,
    reason: `${counted.size} SCTs from distinct logs of ${operators.length} operators (${operators.join(', ')}); ${browser} needs ${need}.${also}`,
    countedLogs,
  };
}

/** Firefox has enforced Chrome's policy (same log list, same rules) since version 135. */
export function firefoxPolicy(input: PolicyInput): PolicyVerdict {
  return chromePolicy(input, 'Firefox');
}
