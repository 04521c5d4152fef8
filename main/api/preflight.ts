import * as path from 'node:path';
import type { Engine } from '../engine/engine';
import type { PreflightReport } from './contract';

/**
 * The wizard's pre-flight checks: the same composition as `homeport check` (CA from the
 * config, the configured resolver, the rate-limit ledger in the data directory), without
 * the staging dry run, which the user starts from the CLI when they want it.
 */
export interface PreflightSetup {
  /** This host's public addresses; when absent the probe services are asked. */
  publicIps?: string[];
}

export function preflightRunner(engine: Engine, setup: PreflightSetup = {}) {
  return async (names: string[], caOverride?: string): Promise<PreflightReport> => {
    const [
      { runPreflight },
      { defaultDnsContext },
      { parseServer },
      addr,
      { preflightCa },
      { RateLimitLedger },
      { systemClock },
      { chooseDnsProvider },
    ] = await Promise.all([
      import('../engine/preflight/report.js'),
      import('../engine/preflight/lookup.js'),
      import('../engine/preflight/resolver.js'),
      import('../engine/preflight/addresses.js'),
      import('../engine/preflight/ca.js'),
      import('../engine/preflight/rate-limits.js'),
      import('../engine/clock.js'),
      import('../engine/preflight/dns-provider-choice.js'),
    ]);
    const config = engine.config;
    const entry = caOverride ? (config.cas.find((c) => c.ca === caOverride) ?? { ca: caOverride }) : config.cas[0]!;
    const { ca } = await preflightCa({ ca: entry.ca, caRoot: entry.caRoot, dataDir: engine.dataDir });
    return runPreflight({
      names,
      ca,
      dns: defaultDnsContext(config.resolver ? parseServer(config.resolver) : undefined),
      addresses: setup.publicIps?.length ? addr.fixedAddresses(setup.publicIps) : addr.httpProbe(),
      httpPort: config.listeners.httpPort,
      httpsPort: config.listeners.httpsPort,
      ledger: await RateLimitLedger.open(path.join(engine.dataDir, 'rate-limits.json'), systemClock),
      dnsProvider: Boolean(chooseDnsProvider(config, names)),
    });
  };
}
