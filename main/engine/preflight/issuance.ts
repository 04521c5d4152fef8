import * as path from 'node:path';
import type { Clock } from '../clock';
import type { CertificateConfig, Config } from '../config/schema';
import { HomeportError } from '../errors';
import type { EngineEmitter } from '../events';
import { fixedAddresses, httpProbe, DEFAULT_PROBES, type AddressProbe } from './addresses';
import { preflightCa } from './ca';
import { chooseDnsProvider, unchosenDnsProvider } from './dns-provider-choice';
import { DriftWatch } from './drift';
import { defaultDnsContext } from './lookup';
import { RateLimitLedger } from './rate-limits';
import { runPreflight } from './report';
import { parseServer } from './resolver';
import { isConclusive, type CheckResult, type PreflightReport } from './types';

/**
 * Pre-flight as the engine runs it in the lifecycle's `checking` state, and the drift watch
 * between renewals. The checks are the same as `homeport check` (no dry run); what differs
 * is what may stop an automatic issuance: only findings that hold whatever the network does
 * (a name no public CA issues for, a wildcard without dns-01, CAA records forbidding the CA,
 * the rate-limit ledger at its limit). Everything that needs the public internet (address
 * probe, hairpin, DNS versus this host) informs but never blocks: offline, the CA is the judge.
 */
export interface IssuancePreflightOptions {
  dataDir: string;
  /** The config in effect, read at each run (it changes while the engine runs). */
  config: () => Config;
  clock: Clock;
  events: EngineEmitter;
  /** The whole run gives up after this long and lets the CA decide (default 20 s). */
  timeoutMs?: number;
  /** Per probe service (default 2 s): an offline host must not wait long for the public address. */
  probeTimeoutMs?: number;
  /** Homeport's proxy holds the challenge ports (the engine was given its ChallengeStore). */
  proxyListening?: boolean;
  /** How often the drift watch looks again (default 6 h). */
  driftIntervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
const DEFAULT_DRIFT_INTERVAL_MS = 6 * 3_600_000;

export class IssuancePreflight {
  readonly drift: DriftWatch;

  constructor(private readonly opts: IssuancePreflightOptions) {
    this.drift = new DriftWatch({
      clock: opts.clock,
      events: opts.events,
      check: (names) => this.report(names),
      names: () => [...new Set(opts.config().certificates.flatMap((c) => c.names))],
      intervalMs: opts.driftIntervalMs ?? DEFAULT_DRIFT_INTERVAL_MS,
      file: path.join(opts.dataDir, 'preflight-baseline.json'),
    });
  }

  /**
   * The lifecycle's check: throws a HomeportError (the certificate is then `blocked`) for a
   * conclusive finding. Runs go through the drift watch: a first issuance records the
   * baseline, a renewal reports what changed since as `dns:drift`.
   */
  async check(cert: CertificateConfig, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const config = this.opts.config();
    const noDns01 = blockDns01(cert, config);
    if (noDns01) throw noDns01;
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const run = this.drift.beforeRenewal(cert.names);
    const gaveUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
      opts.signal?.addEventListener('abort', () => resolve(undefined), { once: true });
    });
    let report: PreflightReport | undefined;
    try {
      report = await Promise.race([run, gaveUp]);
    } catch (e) {
      // The checks themselves could not run (e.g. the CA's directory is unreachable): the CA decides.
      this.opts.events.emit('progress', { name: cert.name, step: `Pre-flight checks could not run (${(e as Error).message}); asking the CA anyway` });
      return;
    } finally {
      clearTimeout(timer);
    }
    if (!report) {
      run.catch(() => undefined);
      this.opts.events.emit('progress', { name: cert.name, step: `Pre-flight checks did not finish within ${timeoutMs / 1000} s; asking the CA anyway` });
      return;
    }
    const blocking = blockingFindings(report, config);
    if (blocking.length > 0) {
      const [first] = blocking;
      throw new HomeportError('preflight.blocked', `${first!.name}: ${first!.check.summary}`, {
        fix: first!.check.fix ?? undefined,
        details: { checks: blocking.map((b) => ({ name: b.name, id: b.check.id, summary: b.check.summary, fix: b.check.fix })) },
      });
    }
  }

  /** The full report for these names, as `homeport check` gives it without --dry-run. */
  async report(names: string[]): Promise<PreflightReport> {
    const config = this.opts.config();
    const entry = config.cas[0]!;
    const { ca } = await preflightCa({ ca: entry.ca, caRoot: entry.caRoot, dataDir: this.opts.dataDir });
    return runPreflight({
      names,
      ca,
      dns: defaultDnsContext(config.resolver ? parseServer(config.resolver) : undefined),
      addresses: this.addresses(config),
      httpPort: config.listeners.httpPort,
      httpsPort: config.listeners.httpsPort,
      ledger: await RateLimitLedger.open(path.join(this.opts.dataDir, 'rate-limits.json'), this.opts.clock),
      dnsProvider: Boolean(chooseDnsProvider(config, names)),
      proxyListening: this.opts.proxyListening,
    });
  }

  private addresses(config: Config): AddressProbe {
    if (config.publicIps?.length) return fixedAddresses(config.publicIps);
    // A CA trusted through its own root (caRoot) is private: it reaches this host inside the
    // network, so the public address says nothing and the internet is not asked.
    if (config.cas[0]?.caRoot) return notProbed('the CA is a private one (its own root is configured), which does not connect from the internet');
    const timeoutMs = this.opts.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    return httpProbe({ ...DEFAULT_PROBES, timeoutMs });
  }
}

function notProbed(why: string): AddressProbe {
  return { discover: async () => ({ ipv4: [], ipv6: [], evidence: [`not probed: ${why}`], overridden: false }) };
}

/**
 * What stops an automatic issuance. A name a public CA will not issue for stops it only with
 * a preset (a known public CA): a private CA given by URL may well issue for `nas.lan`.
 * CAA blocks only when it forbids the only configured CA (a later one may be allowed).
 */
export function blockingFindings(report: PreflightReport, config: Config): { name: string; check: CheckResult }[] {
  const { resolveCa } = require('../acme/cas') as typeof import('../acme/cas');
  const publicCa = config.cas.length > 0 && config.cas.every((c) => resolveCa(c).preset);
  const out: { name: string; check: CheckResult }[] = [];
  for (const n of report.names) {
    for (const c of n.checks) {
      if (c.status !== 'fail') continue;
      const blocks =
        (c.id === 'name' && publicCa) ||
        (c.id === 'caa' && isConclusive(c) && config.cas.length === 1) ||
        c.id === 'rate-limits';
      if (blocks) out.push({ name: n.name, check: c });
    }
  }
  return out;
}

/**
 * dns-01 without a DNS provider cannot succeed: a wildcard (CAs validate it only with dns-01) or
 * a certificate set to dns-01. The provider is the one issuance uses (engine.ts: the one the
 * certificate names, else chooseDnsProvider's choice), so what passes here is what the CA sees.
 */
function blockDns01(cert: CertificateConfig, config: Config): HomeportError | undefined {
  const wildcard = cert.names.find((n) => n.startsWith('*.'));
  if (wildcard && cert.challenge && cert.challenge !== 'dns-01') {
    return new HomeportError('preflight.blocked', `${wildcard} is a wildcard, and CAs validate wildcards only with dns-01, not ${cert.challenge}.`, {
      fix: `Issue it with --challenge dns-01 and a DNS provider (dnsProviders in config.json).`,
    });
  }
  if (!wildcard && cert.challenge !== 'dns-01') return undefined;
  if (chooseDnsProvider(config, cert.names, cert.dnsProvider)) return undefined;
  const needs = wildcard ? `${wildcard} is a wildcard: it needs the dns-01 challenge` : `${cert.names[0]} is set to the dns-01 challenge`;
  const several = unchosenDnsProvider(config, cert.name);
  if (!several) {
    return new HomeportError('preflight.blocked', `${needs}, and no DNS provider is configured to publish its TXT record.`, {
      fix: 'Add a DNS provider under "dnsProviders" in config.json (RFC 2136 or Cloudflare); a certificate that names none uses the only one configured.',
    });
  }
  return new HomeportError('preflight.blocked', `${needs}, and ${several.reason}.`, { fix: several.fix });
}
