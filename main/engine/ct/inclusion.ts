import type { Readiness, ReadinessGate } from '../certs/types';
import type { Clock } from '../clock';
import { isHomeportError } from '../errors';
import type { EngineEmitter } from '../events';
import type { LogFetchOptions } from './log-fetch';
import { CtLog, LogList, LogStateName, logKey, stateAt } from './log-list';
import { verifyConsistency, verifyInclusion } from './merkle';
import { PrecertEntry, leafHash, precertSignedEntry } from './precert';
import { Rfc6962Client, TreeHead } from './rfc6962-client';
import { Sct, extractEmbeddedScts, sctLeafIndex } from './sct';
import { StaticCtClient } from './static-ct';
import { verifySctSignature } from './verify';
import { certificatesFromFile, parseCertificate } from './x509';

/**
 * The log inclusion monitor: an SCT is a log's promise to add the certificate to its tree
 * within the maximum merge delay (MMD). This checks the promise was kept, per SCT, with a
 * verified proof: RFC 6962 logs through get-sth + get-proof-by-hash, static-ct-api logs
 * through their signed checkpoint and tiles at the SCT's leaf_index. A log that has not
 * merged the entry yet is asked again with a growing pause until its MMD has passed.
 * Browsers do not check inclusion, so this is a monitor; strict mode (strictInclusionGate)
 * turns it into a gate for users who want proof before serving. Every tree head (RFC 6962) or
 * checkpoint (static-ct-api) is also checked against the last one seen from that log with a
 * consistency proof (from get-sth-consistency, or computed from the tiles): a log that shows
 * two histories (a split view) is reported as inconsistent.
 */

export type InclusionStatus = 'logged' | 'pending' | 'not-logged' | 'inconsistent' | 'unknown-log' | 'not-checked';

/** The newest tree head verified per log id; one kept for a process's lifetime checks every later one. */
export type TreeHeadMemory = Map<string, TreeHead>;

export interface SctInclusion {
  /** Base64 log id, as in the log list. */
  logId: string;
  logName: string | null;
  /** The SCT's timestamp (ms). */
  timestamp: number;
  status: InclusionStatus;
  /** For `logged`: the size of the tree the proof was verified against, and the entry's index. */
  treeSize?: number;
  leafIndex?: number;
  /** When this result was reached, on the monitor's clock. */
  checkedAt: number;
  attempts: number;
  /** One plain sentence: "Logged in X at tree size N …" or why not. */
  message: string;
}

export interface InclusionOptions {
  clock: Clock;
  /** Pause before the first retry; it doubles after each one. Default 5 s. */
  firstRetryMs?: number;
  /** Longest pause between two attempts. Default 30 min. */
  maxRetryMs?: number;
  fetch?: LogFetchOptions;
  signal?: AbortSignal;
  /** Every attempt's result as it happens (pending ones included), e.g. for a progress line. */
  onProgress?: (r: SctInclusion) => void;
  /** Which logs to follow (default: all in the list); the others are reported as not checked. */
  follow?: (log: CtLog) => boolean;
  /** Tree heads seen before (default: a fresh memory per certificate). */
  treeHeads?: TreeHeadMemory;
}

const DEFAULT_FIRST_RETRY_MS = 5_000;
const DEFAULT_MAX_RETRY_MS = 30 * 60_000;

/** One attempt: a final answer, or "not yet" with the reason. */
type Attempt =
  | { final: true; status: 'logged'; treeSize: number; leafIndex: number; message: string }
  | { final: true; status: 'not-logged' | 'inconsistent'; message: string }
  | { final: false; why: string };

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * A log may only ever extend its tree (RFC 6962 §2.1.2): the new tree head and the one seen
 * before must be linked by the log's consistency proof (`prove`, from the older size to the
 * newer). Remembers the larger of the two. Returns why not, in words, when the log shows
 * another history than before.
 */
async function splitView(
  log: CtLog,
  head: TreeHead,
  memory: TreeHeadMemory,
  prove: (from: number, to: number) => Promise<Buffer[]>,
  noun: 'tree head' | 'checkpoint',
): Promise<string | null> {
  const seen = memory.get(log.logId);
  if (seen) {
    const [older, newer] = seen.treeSize <= head.treeSize ? [seen, head] : [head, seen];
    const consistent =
      older.treeSize === newer.treeSize
        ? older.rootHash.equals(newer.rootHash)
        : older.treeSize === 0 || verifyConsistency(older.treeSize, newer.treeSize, older.rootHash, newer.rootHash, await prove(older.treeSize, newer.treeSize));
    if (!consistent) {
      return (
        `${log.name} is inconsistent: its ${noun} of ${head.treeSize} entries (signed ${iso(head.timestamp)}) is not an extension of ` +
        `its ${noun} of ${seen.treeSize} entries (signed ${iso(seen.timestamp)}), so it shows different histories to different ` +
        'viewers (a split view). Its inclusion proofs prove nothing; the log list maintainers remove logs that do this.'
      );
    }
  }
  if (!seen || head.treeSize > seen.treeSize) memory.set(log.logId, head);
  return null;
}

async function attemptRfc6962(log: CtLog, hash: Buffer, opts: InclusionOptions, treeHeads: TreeHeadMemory): Promise<Attempt> {
  const client = new Rfc6962Client(log.name, log.url, logKey(log), { ...opts.fetch, signal: opts.signal });
  const sth = await client.getSth();
  const split = await splitView(log, sth, treeHeads, (from, to) => client.getSthConsistency(from, to), 'tree head');
  if (split) return { final: true, status: 'inconsistent', message: split };
  if (sth.treeSize === 0) return { final: false, why: 'its tree is still empty' };
  const answer = await client.getProofByHash(hash, sth.treeSize);
  if (!answer) return { final: false, why: `its tree of ${sth.treeSize} entries does not hold it yet` };
  if (!verifyInclusion(answer.leafIndex, sth.treeSize, hash, answer.auditPath, sth.rootHash)) {
    return { final: false, why: `its proof for entry ${answer.leafIndex} does not lead to its signed tree head` };
  }
  return {
    final: true,
    status: 'logged',
    treeSize: sth.treeSize,
    leafIndex: answer.leafIndex,
    message: `Logged in ${log.name} at tree size ${sth.treeSize} (entry ${answer.leafIndex}); inclusion proof verified against its signed tree head.`,
  };
}

async function attemptStaticCt(log: CtLog, sct: Sct, hash: Buffer, opts: InclusionOptions, treeHeads: TreeHeadMemory): Promise<Attempt> {
  let index: number | undefined;
  try {
    index = sctLeafIndex(sct);
  } catch {
    index = undefined;
  }
  if (index === undefined) {
    return {
      final: true,
      status: 'not-logged',
      message: `${log.name} is a static-ct-api log, but its SCT carries no valid leaf_index, so the entry cannot be found.`,
    };
  }
  const client = new StaticCtClient(log.name, log.monitoringUrl ?? log.url, log.url, logKey(log), { ...opts.fetch, signal: opts.signal });
  const cp = await client.checkpoint();
  const split = await splitView(log, cp, treeHeads, (from, to) => client.consistencyProof(from, to), 'checkpoint');
  if (split) return { final: true, status: 'inconsistent', message: split };
  if (index >= cp.treeSize) {
    return { final: false, why: `its latest checkpoint covers ${cp.treeSize} entries and this one is entry ${index}` };
  }
  const { proof, leafHash: held } = await client.inclusionProof(index, cp.treeSize);
  // Tiles come from caches and mirrors: only a leaf proven against the signed checkpoint says
  // what the log holds, so a stale or corrupt tile is asked again, never taken as the answer.
  if (!verifyInclusion(index, cp.treeSize, held, proof, cp.rootHash)) {
    return { final: false, why: `its tiles do not lead to its signed checkpoint of ${cp.treeSize} entries` };
  }
  if (!held.equals(hash)) {
    return {
      final: true,
      status: 'not-logged',
      message: `${log.name} holds a different entry at index ${index}, the position its SCT promised for this certificate.`,
    };
  }
  return {
    final: true,
    status: 'logged',
    treeSize: cp.treeSize,
    leafIndex: index,
    message: `Logged in ${log.name} at tree size ${cp.treeSize} (entry ${index}); inclusion proof from its tiles verified against its signed checkpoint.`,
  };
}

function sleepUntil(clock: Clock, at: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason);
    };
    const timer = clock.at(at, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Follows one SCT until its log shows the entry with a verified proof, or the log's MMD
 * has passed since the SCT's timestamp (then: not logged, with the last reason seen).
 */
export async function followSct(sct: Sct, entry: PrecertEntry, log: CtLog, opts: InclusionOptions): Promise<SctInclusion> {
  const { clock } = opts;
  const base = { logId: sct.logIdBase64, logName: log.name, timestamp: sct.timestamp };
  const hash = leafHash(sct, entry);
  const deadline = sct.timestamp + log.mmd * 1000;
  const treeHeads = opts.treeHeads ?? new Map();
  let delay = opts.firstRetryMs ?? DEFAULT_FIRST_RETRY_MS;
  for (let attempts = 1; ; attempts++) {
    let a: Attempt;
    try {
      a = log.kind === 'static-ct' ? await attemptStaticCt(log, sct, hash, opts, treeHeads) : await attemptRfc6962(log, hash, opts, treeHeads);
    } catch (e) {
      if (opts.signal?.aborted || !isHomeportError(e)) throw e;
      // The error's sentence continues ours ("Not yet in X: the CT log X cannot be reached …").
      a = { final: false, why: e.message.replace(/\.$/, '').replace(/^[A-Z](?=[a-z ])/, (c) => c.toLowerCase()) };
    }
    const now = clock.now();
    if (a.final) {
      const { final: _, ...rest } = a;
      const r: SctInclusion = { ...base, ...rest, checkedAt: now, attempts };
      opts.onProgress?.(r);
      return r;
    }
    if (now >= deadline) {
      const r: SctInclusion = {
        ...base,
        status: 'not-logged',
        checkedAt: now,
        attempts,
        message: `Not logged after the MMD: ${log.name} promised to include it within ${duration(log.mmd)} of ${new Date(sct.timestamp).toISOString()}, and ${a.why}.`,
      };
      opts.onProgress?.(r);
      return r;
    }
    const next = Math.min(now + delay, deadline);
    opts.onProgress?.({
      ...base,
      status: 'pending',
      checkedAt: now,
      attempts,
      message: `Not yet in ${log.name}: ${a.why}. Next check ${new Date(next).toISOString()}.`,
    });
    await sleepUntil(clock, next, opts.signal);
    delay = Math.min(delay * 2, opts.maxRetryMs ?? DEFAULT_MAX_RETRY_MS);
  }
}

export interface InclusionReport {
  results: SctInclusion[];
  /** Every SCT whose log could be checked is logged (and there was at least one). */
  allLogged: boolean;
  summary: string;
}

/**
 * Follows every embedded SCT of a certificate at once. `chain` starts with the issuer.
 * SCTs from logs missing in the list, or whose signature does not verify, are reported and
 * not followed: there is no key to trust, or no entry the log ever promised.
 */
export async function monitorInclusion(leaf: Uint8Array, chain: Uint8Array[], list: LogList, opts: InclusionOptions): Promise<InclusionReport> {
  const cert = parseCertificate(leaf);
  const scts = extractEmbeddedScts(cert);
  const entry = scts.length && chain.length ? precertSignedEntry(cert, chain[0]) : undefined;
  const followOpts = { ...opts, treeHeads: opts.treeHeads ?? new Map() };
  const results = await Promise.all(
    scts.map(async (sct): Promise<SctInclusion> => {
      const log = list.logs.get(sct.logIdBase64);
      const base = { logId: sct.logIdBase64, logName: log?.name ?? null, timestamp: sct.timestamp, checkedAt: opts.clock.now(), attempts: 0 };
      if (!log) {
        return { ...base, status: 'unknown-log', message: `The log ${sct.logIdBase64} is not in the log list; its inclusion cannot be checked.` };
      }
      if (!entry) {
        return { ...base, status: 'not-checked', message: "Without the issuer's certificate the log entry cannot be computed." };
      }
      if (opts.follow && !opts.follow(log)) {
        return { ...base, status: 'not-checked', message: `Not awaited: ${log.name} is ${stateAt(log, base.checkedAt) ?? 'in no known state'}.` };
      }
      const sig = verifySctSignature(sct, entry, logKey(log));
      if (!sig.valid) {
        return { ...base, status: 'not-checked', message: `Not checked in ${log.name}: ${sig.reason}.` };
      }
      return followSct(sct, entry, log, followOpts);
    }),
  );
  const checked = results.filter((r) => r.status !== 'unknown-log' && r.status !== 'not-checked');
  const allLogged = checked.length > 0 && checked.every((r) => r.status === 'logged');
  const summary =
    results.length === 0
      ? 'The certificate has no embedded SCTs, so there is no log inclusion to check.'
      : results.map((r) => r.message).join(' ');
  return { results, allLogged, summary };
}

/**
 * The monitor as the engine runs it after an issuance: progress lines while logs are
 * pending, then `cert:ct-logged` with the per-SCT verdicts. Never throws for a log's
 * misbehaviour (that is a verdict); only a certificate that cannot be read is an error.
 */
export async function watchInclusion(
  events: EngineEmitter,
  cert: { name: string; serial: string; certPem: string; chainPem: string },
  list: LogList,
  opts: InclusionOptions,
): Promise<InclusionReport> {
  const [leaf] = certificatesFromFile(cert.certPem);
  const chain = cert.chainPem.trim() ? certificatesFromFile(cert.chainPem) : [];
  const report = await monitorInclusion(leaf, chain, list, {
    ...opts,
    onProgress: (r) => {
      opts.onProgress?.(r);
      if (r.status === 'pending') events.emit('progress', { name: cert.name, step: r.message });
    },
  });
  events.emit('cert:ct-logged', {
    name: cert.name,
    serial: cert.serial,
    allLogged: report.allLogged,
    summary: report.summary,
    scts: report.results.map(({ logId, logName, status, treeSize, leafIndex, message }) => ({ logId, logName, status, treeSize, leafIndex, message })),
  });
  return report;
}

/** Log states whose SCTs browsers accept today: their inclusion is what strict mode insists on. */
const TRUSTED_NOW: ReadonlySet<LogStateName> = new Set(['qualified', 'usable', 'readonly']);

export interface StrictInclusionOptions extends Omit<InclusionOptions, 'onProgress'> {
  /** The Chrome list in use (the same one the base gate judges with). */
  logList: () => LogList;
}

/**
 * Strict mode: the certificate is ready only when the base gate (ctReadinessGate) says so
 * AND every SCT from a log browsers trust today is proven included. readyAt becomes the
 * later of the base readyAt and the moment the last proof verified; an SCT its log did not
 * honour within the MMD makes it never ready, with that reason. SCTs from unknown, retired
 * or rejected logs are not awaited: the base gate already decided whether they count, and a
 * retired log may no longer answer at all.
 */
export function strictInclusionGate(base: ReadinessGate, opts: StrictInclusionOptions): ReadinessGate {
  return async (cert): Promise<Readiness> => {
    const verdict = await base(cert);
    if (verdict.readyAt === null) return verdict;
    const [leaf] = certificatesFromFile(cert.certPem);
    const chain = cert.chainPem.trim() ? certificatesFromFile(cert.chainPem) : [];
    const list = opts.logList();
    const trusted = (log: CtLog) => TRUSTED_NOW.has(stateAt(log, opts.clock.now()) ?? 'pending');
    const report = await monitorInclusion(leaf, chain, list, { ...opts, follow: trusted });
    // No SCTs and still ready: the base gate found CT not required (a private CA); nothing to prove.
    if (report.results.length === 0) return verdict;
    const awaited = report.results.filter((r) => r.status !== 'unknown-log' && r.attempts > 0);
    const failed = awaited.filter((r) => r.status !== 'logged');
    if (awaited.length === 0 || failed.length > 0) {
      return {
        readyAt: null,
        reason: `Strict mode: ${awaited.length === 0 ? 'no SCT comes from a log trusted today, so inclusion cannot be proven.' : failed.map((r) => r.message).join(' ')}`,
      };
    }
    const provenAt = Math.max(...awaited.map((r) => r.checkedAt));
    return {
      readyAt: Math.max(verdict.readyAt, provenAt),
      reason: `${verdict.reason} Strict mode: ${awaited.map((r) => r.message).join(' ')}`,
    };
  };
}
