import type { Readiness, ReadinessGate } from '../certs/types';
import type { Clock } from '../clock';
import { isHomeportError } from '../errors';
import { CtCheckOptions, LogLists, checkCertificate } from './check';
import { ReadinessMargins, marginFor, readinessMargins } from './readiness';
import { shippedLogList } from './snapshot';
import { certificatesFromFile } from './x509';

export interface CtGateOptions {
  clock: Clock;
  /** The lists in use right now (a LogListSource's `lists()`); defaults to the shipped snapshot. */
  logLists?: () => LogLists;
  margins?: Partial<ReadinessMargins>;
  /** Per-certificate override of the public/private decision (e.g. the user's --public). */
  applicability?: CtCheckOptions['applicability'];
}

/**
 * The CT readiness gate the certificate lifecycle plugs in (certs/types.ts ReadinessGate):
 * resting → active happens at `readyAt`. A certificate that cannot be parsed gets
 * readyAt null with the reason, never an exception, so the lifecycle keeps the old one.
 */
export function ctReadinessGate(opts: CtGateOptions): ReadinessGate {
  const margins = readinessMargins(opts.margins);
  const lists = opts.logLists ?? (() => ({ chrome: shippedLogList() }));
  return async ({ certPem, chainPem, firstIssuance }): Promise<Readiness> => {
    try {
      const [leaf] = certificatesFromFile(certPem);
      const chain = chainPem.trim() ? certificatesFromFile(chainPem) : [];
      const v = checkCertificate(leaf, chain, {
        logLists: lists(),
        at: opts.clock.now(),
        marginMs: marginFor(margins, firstIssuance),
        applicability: opts.applicability,
      });
      return { readyAt: v.readyAt, reason: v.reason };
    } catch (e) {
      if (!isHomeportError(e)) throw e;
      return { readyAt: null, reason: e.toLine() };
    }
  };
}
