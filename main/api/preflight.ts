import type { Engine } from '../engine/engine';
import type { PreflightReport } from './contract';

/**
 * The wizard's pre-flight checks: the engine's own composition (preflight/issuance.ts: the
 * config's CA, resolver, public addresses and rate-limit ledger; no staging dry run), so the
 * wizard shows exactly what the lifecycle will judge.
 */
export function preflightRunner(engine: Engine): (names: string[]) => Promise<PreflightReport> {
  let preflight: import('../engine/preflight/issuance').IssuancePreflight | undefined;
  return async (names) => {
    if (!preflight) {
      const [{ IssuancePreflight }, { systemClock }] = await Promise.all([import('../engine/preflight/issuance.js'), import('../engine/clock.js')]);
      preflight = new IssuancePreflight({ dataDir: engine.dataDir, config: () => engine.config, clock: systemClock, events: engine.events });
    }
    return preflight.report(names);
  };
}
