import type { PreflightReport } from '../../main/engine/preflight/types';
import { homeport, type CliResult } from '../cli/helpers';

/** `homeport check …` as a real process. */
export function check(args: string[]): Promise<CliResult> {
  return homeport(['check', ...args]);
}

/** The JSON on stdout; a crash shows its stderr instead of a bare parse error. */
export function parseReport(r: CliResult): PreflightReport {
  try {
    return JSON.parse(r.stdout) as PreflightReport;
  } catch {
    throw new Error(`homeport check printed no JSON (exit ${r.code}): ${r.stderr}`);
  }
}
