import { Command } from 'commander';
import * as path from 'node:path';
import {
  addCaOptions,
  addDataDirOption,
  addJsonOption,
  addListenerOptions,
  addResolverOption,
  CaOptions,
  DataDirOptions,
  ListenerOptions,
  publicIps,
} from './options';

interface CheckOptions extends DataDirOptions, CaOptions, ListenerOptions {
  resolver?: string;
  publicIp?: string[];
  dryRun?: boolean;
  dnsProvider?: string;
  json?: boolean;
}

/**
 * `homeport check <name...>`: the pre-flight checks, before anything is sent to a CA.
 * Exit 0 = ready, 1 = blocked, 2 = the check itself could not run.
 */
export function register(program: Command): void {
  const cmd = program
    .command('check')
    .description('check names before issuing (DNS, CAA, ports, public address, CDN, rate limits) and recommend a challenge; exit 0 ready, 1 blocked, 2 error')
    .argument('<name...>', 'the names to check (a wildcard as *.example.com)')
    .option('--public-ip <address>', "this host's public address (repeatable); no probe service is asked then", publicIps)
    .option('--dry-run', "validate every name for real at the CA's staging environment (no certificate is issued)")
    .option('--dns-provider <name>', 'the dnsProviders entry of config.json for dns-01 (default: the one used for these names, or the only one)');
  addResolverOption(cmd);
  addCaOptions(cmd);
  addListenerOptions(cmd);
  addDataDirOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (names: string[], opts: CheckOptions) => {
    const { fail, printJson } = await import('./output.js');
    try {
      const report = await runCheck(names, opts);
      if (opts.json) printJson(report);
      else printReport((await import('./output.js')).printLine, report);
      process.exitCode = report.verdict === 'ready' ? 0 : 1;
    } catch (e) {
      fail(e, { json: opts.json, exitCode: 2 });
    }
  });
}

async function runCheck(names: string[], opts: CheckOptions) {
  const [
    { runPreflight },
    { defaultDnsContext },
    { parseServer },
    addr,
    { preflightCa, dryRunner },
    { RateLimitLedger },
    { systemClock },
    { loadConfig },
    { chooseDnsProvider },
  ] = await Promise.all([
    import('../engine/preflight/report.js'),
    import('../engine/preflight/lookup.js'),
    import('../engine/preflight/resolver.js'),
    import('../engine/preflight/addresses.js'),
    import('../engine/preflight/ca.js'),
    import('../engine/preflight/rate-limits.js'),
    import('../engine/clock.js'),
    import('../engine/config/file.js'),
    import('../engine/preflight/dns-provider-choice.js'),
  ]);
  const config = await loadConfig(opts.dataDir);
  // --public-ip, else the addresses config.json names; only without either are probe services asked.
  const fixed = opts.publicIp?.length ? opts.publicIp : config.publicIps;
  const addresses = fixed?.length ? addr.fixedAddresses(fixed) : addr.httpProbe();
  const resolver = opts.resolver ?? config.resolver;
  const provider = chooseDnsProvider(config, names, opts.dnsProvider);
  const caEntry = opts.ca?.[0] ? { ca: opts.ca[0], caRoot: opts.caRoot } : config.cas[0]!;
  const { ca, resolved } = await preflightCa({ ca: caEntry.ca, caRoot: caEntry.caRoot, dataDir: opts.dataDir });
  const eab = opts.eabKid && opts.eabHmacKey ? { kid: opts.eabKid, hmacKey: opts.eabHmacKey } : caEntry.eab;
  let solvers;
  if (opts.dryRun && provider) {
    const [{ createDnsProvider }, { dns01Solver }] = await Promise.all([
      import('../engine/acme/dns/index.js'),
      import('../engine/acme/solvers.js'),
    ]);
    solvers = { 'dns-01': dns01Solver(createDnsProvider(provider.config, { name: provider.name, clock: systemClock }), { resolver }) };
  }
  return runPreflight({
    names,
    ca,
    dns: defaultDnsContext(resolver ? parseServer(resolver) : undefined),
    addresses,
    httpPort: opts.httpPort,
    httpsPort: opts.httpsPort,
    ledger: await RateLimitLedger.open(path.join(opts.dataDir, 'rate-limits.json'), systemClock),
    dnsProvider: Boolean(provider),
    dryRun: opts.dryRun
      ? dryRunner(resolved, {
          dataDir: opts.dataDir,
          ca: resolved.id,
          caRoot: caEntry.caRoot,
          httpPort: opts.httpPort,
          httpsPort: opts.httpsPort,
          email: opts.email ?? config.email,
          acceptTos: opts.acceptTos ?? config.acceptTos,
          eab,
          solvers,
        })
      : undefined,
  });
}

const MARK: Record<string, string> = { pass: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };

function printReport(
  printLine: (line?: string) => void,
  report: Awaited<ReturnType<typeof runCheck>>,
): void {
  for (const n of report.names) {
    printLine(n.name);
    for (const c of n.checks) {
      printLine(`  ${MARK[c.status]}  ${c.id.padEnd(14)} ${c.summary}`);
      if (c.fix && (c.status === 'fail' || c.status === 'warn')) printLine(`  ${' '.repeat(20)} Fix: ${c.fix}`);
    }
    printLine();
  }
  printLine(
    report.verdict === 'ready'
      ? `Ready to issue${report.recommendedChallenge ? ` with ${report.recommendedChallenge}` : ''}.`
      : `Blocked: fix the FAIL lines above first.${report.recommendedChallenge ? ` Then issue with ${report.recommendedChallenge}.` : ''}`,
  );
}
