import { PolicyInput, PolicyVerdict, effectiveIssuance, sctStanding } from './policy';

/**
 * Apple's CT policy for embedded SCTs (support.apple.com/103214): at least one SCT from a
 * currently approved log, SCTs from distinct once- or currently approved logs per the
 * lifetime table with a cap on how many one operator contributes, and at least one SCT from
 * an RFC 6962 log. Lifetime is RFC 5280's, notBefore through notAfter inclusive, counted in
 * 86,400-second days where any part of a day is a whole day.
 */
const DAY = 86_400_000;

export function appleLifetimeDays(notBefore: number, notAfter: number): number {
  return Math.ceil((notAfter - notBefore + 1000) / DAY);
}

/** [distinct logs required, most SCTs one operator may contribute] or null above 398 days. */
export function appleRequirement(days: number): { logs: number; perOperator: number } | null {
  if (days <= 180) return { logs: 2, perOperator: 1 };
  if (days <= 398) return { logs: 3, perOperator: 2 };
  return null;
}

export function applePolicy(input: PolicyInput): PolicyVerdict {
  const days = appleLifetimeDays(input.notBefore, input.notAfter);
  const req = appleRequirement(days);
  const listNote = input.list.source === 'apple' ? '' : " (judged with Chrome's log list; Apple's own list was not loaded)";
  if (!req) {
    return {
      compliant: false,
      reason: `The certificate is valid for ${days} days; Apple accepts at most 398.`,
      countedLogs: [],
    };
  }
  if (input.scts.length === 0) {
    return { compliant: false, reason: `The certificate has no embedded SCTs; Apple needs ${req.logs}.`, countedLogs: [] };
  }
  const issuance = effectiveIssuance(input);
  const perOperator = new Map<string, number>();
  const counted = new Set<string>();
  const ignored: string[] = [];
  let hasCurrent = false;
  let hasRfc6962 = false;
  // With a per-operator cap, prefer the SCTs from RFC 6962 logs: Apple needs one of those.
  const rfc6962First = [...input.scts].sort(
    (a, b) => Number(input.list.logs.get(a.sct.logIdBase64)?.kind !== 'rfc6962') - Number(input.list.logs.get(b.sct.logIdBase64)?.kind !== 'rfc6962'),
  );
  for (const s of rfc6962First) {
    const st = sctStanding(s, input, issuance);
    if (!st.counts) {
      ignored.push(st.why);
      continue;
    }
    if (st.state !== 'retired') hasCurrent = true;
    if (counted.has(s.sct.logIdBase64)) {
      ignored.push(`a second SCT from ${st.log.name} counts once`);
      continue;
    }
    const n = perOperator.get(st.operator) ?? 0;
    if (n >= req.perOperator) {
      ignored.push(`the SCT from ${st.log.name} is one more from ${st.operator} than Apple counts (${req.perOperator})`);
      continue;
    }
    perOperator.set(st.operator, n + 1);
    counted.add(s.sct.logIdBase64);
    if (st.log.kind === 'rfc6962') hasRfc6962 = true;
  }
  const countedLogs = [...counted];
  const also = ignored.length ? ` Not counted: ${ignored.join('; ')}.` : '';
  const need = `${req.logs} SCTs from distinct logs (at most ${req.perOperator} per operator) for a ${days}-day certificate`;
  if (!hasCurrent) {
    return { compliant: false, reason: `No SCT comes from a log Apple currently approves${listNote}.${also}`, countedLogs };
  }
  if (counted.size < req.logs) {
    return { compliant: false, reason: `Only ${counted.size} of the ${need} Apple requires${listNote}.${also}`, countedLogs };
  }
  if (!hasRfc6962) {
    return {
      compliant: false,
      reason: `No counted SCT comes from an RFC 6962 log; Apple requires at least one (static-ct-api logs alone are not enough)${listNote}.${also}`,
      countedLogs,
    };
  }
  return {
    compliant: true,
    reason: `${counted.size} SCTs from distinct logs of ${perOperator.size} operators (${[...perOperator.keys()].join(', ')}), at least one from an RFC 6962 log; Apple needs ${need}${listNote}.${also}`,
    countedLogs,
  };
}
