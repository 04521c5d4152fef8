import { HomeportError } from '../errors';
import { byteLimitText, readCappedBody } from './capped-body';

/**
 * One GET to a CT log's read API, shared by the RFC 6962 and static-ct-api clients. Logs
 * are monitored in the background, so a hung log must cost a bounded wait, and every
 * failure names the log so the user knows which one misbehaved.
 */
export interface LogResponse {
  status: number;
  body: Buffer;
}

export interface LogFetchOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const DEFAULT_LOG_TIMEOUT_MS = 15_000;

/**
 * The most a log may send per kind of answer. A tree head, an inclusion or consistency proof
 * (at most 64 hashes) or a checkpoint is a few KB at most; a full hash tile is exactly 256
 * hashes of 32 bytes.
 */
export const LOG_RESPONSE_LIMIT = { json: 64 * 1024, checkpoint: 64 * 1024, hashTile: 256 * 32 } as const;

/** `maxBytes`: one of LOG_RESPONSE_LIMIT; a longer answer is a bad response, cut off unread. */
export async function logGet(logName: string, url: string, maxBytes: number, opts: LogFetchOptions = {}): Promise<LogResponse> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_LOG_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let response: { status: number; body: Buffer | null };
  try {
    const res = await fetch(url, { signal, headers: { accept: 'application/json, */*' } });
    response = { status: res.status, body: await readCappedBody(res, maxBytes) };
  } catch (e) {
    if (opts.signal?.aborted) throw e;
    const timedOut = timeout.aborted;
    throw new HomeportError(
      'ct.log-unreachable',
      timedOut
        ? `The CT log ${logName} did not answer within ${Math.round((opts.timeoutMs ?? DEFAULT_LOG_TIMEOUT_MS) / 1000)} s (${url}).`
        : `The CT log ${logName} cannot be reached (${url}: ${causeText(e)}).`,
      { fix: 'Check this machine\'s internet connection; Homeport tries again later on its own.', cause: e },
    );
  }
  if (response.body !== null) return { status: response.status, body: response.body };
  // Only a 200 answer is used whole; an oversized error page (a CDN's 404) still tells its status.
  if (response.status !== 200) return { status: response.status, body: Buffer.alloc(0) };
  throw logProtocolError(logName, `${url} answered with more than ${byteLimitText(maxBytes)}`);
}

function causeText(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

/** A log answered, but not with what the API promises: say so plainly, with the log's own words. */
export function logProtocolError(logName: string, what: string, details?: Record<string, unknown>): HomeportError {
  return new HomeportError('ct.log-bad-response', `The CT log ${logName} sent a response Homeport cannot use: ${what}.`, {
    fix: 'Usually temporary on the log\'s side; Homeport tries again later. If it persists, the log may be broken or misconfigured in the log list.',
    details,
  });
}
