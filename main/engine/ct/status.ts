import type { EngineEvents } from '../events';
import { isHomeportError } from '../errors';
import type { ApplicabilityOverride } from './applicability';
import type { LogLists } from './check';
import { checkCertificate } from './check';
import type { PolicyVerdict } from './policy';
import { certificatesFromFile } from './x509';

/**
 * The CT verdict of one stored certificate as status shows it (`homeport status --json`, the
 * UI): plain JSON, times as ISO strings, the SCTs and each browser's policy, plus the last
 * inclusion result the monitor reported for it.
 */
export interface CtStatus {
  serial: string;
  applicable: boolean;
  /** Why CT does or does not apply ("private CA …", "publicly trusted …"). */
  applicability: string;
  ready: boolean;
  /** From when every browser accepts it; null = never (reason says why). */
  readyAt: string | null;
  reason: string;
  scts: { logId: string; timestamp: string; signatureValid: boolean; log: { name: string; operator: string; state: string | null } | null }[];
  policies: { chrome: PolicyVerdict; firefox: PolicyVerdict; apple: PolicyVerdict };
  /** E.g. the log list in use is older than 70 days. */
  warnings: string[];
  inclusion?: Omit<EngineEvents['cert:ct-logged'], 'name'>;
}

export function ctStatus(
  cert: { certPem: string; chainPem: string },
  opts: { logLists: LogLists; at: number; marginMs: number; inclusion?: CtStatus['inclusion']; applicability?: ApplicabilityOverride },
): CtStatus | { error: string } {
  try {
    const [leaf] = certificatesFromFile(cert.certPem);
    const chain = cert.chainPem.trim() ? certificatesFromFile(cert.chainPem) : [];
    const v = checkCertificate(leaf!, chain, { logLists: opts.logLists, at: opts.at, marginMs: opts.marginMs, applicability: opts.applicability });
    return {
      serial: v.serial,
      applicable: v.applicable,
      applicability: v.applicability,
      ready: v.ready,
      readyAt: v.readyAt === null ? null : new Date(v.readyAt).toISOString(),
      reason: v.reason,
      scts: v.scts.map((s) => ({
        logId: s.logId,
        timestamp: new Date(s.timestamp).toISOString(),
        signatureValid: s.signatureValid,
        log: s.log && { name: s.log.name, operator: s.log.operator, state: s.log.state },
      })),
      policies: v.policies,
      warnings: v.warnings,
      ...(opts.inclusion && sameSerial(opts.inclusion.serial, v.serial) ? { inclusion: opts.inclusion } : {}),
    };
  } catch (e) {
    if (!isHomeportError(e)) throw e;
    return { error: e.toLine() };
  }
}

/** Serials as hex in any case, with or without the DER sign byte. */
function sameSerial(a: string, b: string): boolean {
  const norm = (s: string) => s.toUpperCase().replace(/^(00)+/, '');
  return norm(a) === norm(b);
}
