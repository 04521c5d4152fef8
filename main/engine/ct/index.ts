/**
 * CT readiness: what the rest of the engine uses. The engine plugs `ctReadinessGate` into the
 * lifecycle (which fires cert:ct-ready at readyAt from its timer), the lifecycle acts on
 * `servingDecision`, and the engine keeps one `LogListSource` running for the daily refresh.
 */
export { ctReadinessGate, type CtGateOptions } from './gate';
export { checkCertificate, type CtVerdict, type CtCheckOptions, type LogLists, type SctReport } from './check';
export {
  DEFAULT_MARGINS,
  MIN_MARGIN_MS,
  defaultServingPolicy,
  servingPolicyFor,
  readinessMargins,
  marginFor,
  servingDecision,
  type ReadinessMargins,
  type ServingPolicy,
  type ServingDecision,
} from './readiness';
export { LogListSource, CHROME_LOG_LIST_URL, APPLE_LOG_LIST_URL, type RefreshOutcome } from './log-list-refresh';
export { shippedLogList } from './snapshot';
export { parseLogList, parseSignedLogList, logListAgeWarning, type CtLog, type LogList } from './log-list';
export { ClockCheck, assessClock, sampleFromDateHeader, sampleFromScts, type ClockSample, type ClockVerdict } from './clock-skew';
export { extractEmbeddedScts, parseSctList, type Sct } from './sct';
export { precertSignedEntry, leafHash, merkleTreeLeaf, type PrecertEntry } from './precert';
