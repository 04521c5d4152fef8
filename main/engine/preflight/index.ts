/**
 * Pre-flight's surface for the engine and the hosts: run the checks, watch for drift, meter
 * rate limits. The other files are its inside.
 */
export { runPreflight, type PreflightCa, type PreflightOptions } from './report';
export { DriftWatch, type DriftWatchOptions } from './drift';
export { IssuancePreflight, blockingFindings, type IssuancePreflightOptions } from './issuance';
export { RateLimitLedger, publishedLimits, registeredDomain, type LedgerAssessment, type LedgerRequest } from './rate-limits';
export { defaultDnsContext, systemResolver, type DnsContext } from './lookup';
export { parseServer, WireResolver, type DnsServer, type Resolver } from './resolver';
export { fixedAddresses, httpProbe, DEFAULT_PROBES, type AddressProbe, type PublicAddresses } from './addresses';
export { preflightCa, dryRunner, stagingFor } from './ca';
export { chooseDnsProvider } from './dns-provider-choice';
export { CHECK_IDS, type CheckId, type CheckResult, type CheckStatus, type NameReport, type PreflightReport, type Verdict } from './types';
export * as wording from './wording';
