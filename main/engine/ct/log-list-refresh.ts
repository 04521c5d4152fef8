import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-file';
import { Clock, Timer, systemClock } from '../clock';
import { HomeportError } from '../errors';
import type { EngineEmitter } from '../events';
import { byteLimitText, readCappedBody } from './capped-body';
import type { LogLists } from './check';
import { LogList, logListAgeWarning, parseLogList, parseSignedLogList } from './log-list';
import { googleLogListKey, shippedLogList } from './snapshot';

/**
 * Keeps the CT log lists current: the shipped snapshot to start with, the last good download
 * from the data directory if newer, and a daily conditional GET (ETag / If-Modified-Since).
 * A Chrome list is used only when its signature verifies and it is not older than the one in
 * use; whatever fails, the list in use stays.
 */
export const CHROME_LOG_LIST_URL = 'https://www.gstatic.com/ct/log_list/v3/log_list.json';
export const APPLE_LOG_LIST_URL = 'https://valid.apple.com/ct/log_list/current_log_list.json';
export const REFRESH_INTERVAL_MS = 86_400_000;
const RETRY_AFTER_FAILURE_MS = 3_600_000;
const FETCH_TIMEOUT_MS = 30_000;
/** Chrome's list is about 50 KB (75 logs, the shipped snapshot); a server sending 8 MB is broken or hostile. */
export const LOG_LIST_MAX_BYTES = 8 * 1024 * 1024;
const SIGNATURE_MAX_BYTES = 64 * 1024;

export interface LogListSourceOptions {
  /** Where the last good copies live (e.g. <data>/ct). */
  dir: string;
  chromeUrl?: string;
  /** Defaults to chromeUrl with .json replaced by .sig. */
  chromeSignatureUrl?: string;
  /** Google's key for the list, PEM; defaults to the shipped one. */
  publicKey?: string;
  /** Apple's list is fetched too when set (it has no detached signature; use an https URL). */
  appleUrl?: string;
  clock?: Clock;
  intervalMs?: number;
  /** The list to start from; defaults to the shipped snapshot. */
  initial?: LogList;
  /** Where `ct:log-list` goes after each scheduled refresh. */
  events?: EngineEmitter;
}

interface Meta {
  etag?: string;
  lastModified?: string;
  checkedAt?: number;
}

export type RefreshStatus = 'updated' | 'not-modified' | 'rejected' | 'failed';
export interface RefreshOutcome {
  list: 'chrome' | 'apple';
  status: RefreshStatus;
  message: string;
}

export class LogListSource {
  private chrome: LogList;
  private apple?: LogList;
  private timer?: Timer;
  private readonly clock: Clock;
  private readonly chromeUrl: string;
  private readonly sigUrl: string;

  constructor(private readonly opts: LogListSourceOptions) {
    this.clock = opts.clock ?? systemClock;
    this.chrome = opts.initial ?? shippedLogList();
    this.chromeUrl = opts.chromeUrl ?? CHROME_LOG_LIST_URL;
    this.sigUrl = opts.chromeSignatureUrl ?? this.chromeUrl.replace(/\.json$/, '.sig');
  }

  lists(): LogLists {
    return { chrome: this.chrome, apple: this.apple };
  }

  /** Warnings for lists older than 70 days. */
  warnings(): string[] {
    return [this.chrome, this.apple].flatMap((l) => (l ? [logListAgeWarning(l, this.clock.now())] : [])).filter((w): w is string => !!w);
  }

  private file(name: string): string {
    return path.join(this.opts.dir, name);
  }

  /** Adopts the last good copies from the data directory when they verify and are newer. */
  async load(): Promise<void> {
    try {
      const [json, sig] = await Promise.all([fs.readFile(this.file('log_list.json')), fs.readFile(this.file('log_list.sig'))]);
      const list = parseSignedLogList(json, sig, this.opts.publicKey ?? googleLogListKey());
      if (list.timestamp >= this.chrome.timestamp) this.chrome = list;
    } catch {
      // No saved copy, or a damaged one: the list in use stays.
    }
    try {
      const meta = await this.readMeta('apple');
      const json = await fs.readFile(this.file('apple_log_list.json'));
      this.apple = parseLogList(json, 'apple', meta.checkedAt ?? this.clock.now());
    } catch {
      // Apple's list is optional.
    }
  }

  private async readMeta(which: 'chrome' | 'apple'): Promise<Meta> {
    try {
      return JSON.parse(await fs.readFile(this.file(`${which}_meta.json`), 'utf8')) as Meta;
    } catch {
      return {};
    }
  }

  private async writeMeta(which: 'chrome' | 'apple', meta: Meta): Promise<void> {
    await writeFileAtomic(this.file(`${which}_meta.json`), JSON.stringify(meta), { mode: 0o600 });
  }

  /** One refresh of every configured list now. */
  async refresh(): Promise<RefreshOutcome[]> {
    const out = [await this.refreshChrome()];
    if (this.opts.appleUrl) out.push(await this.refreshApple(this.opts.appleUrl));
    return out;
  }

  private async refreshChrome(): Promise<RefreshOutcome> {
    const meta = await this.readMeta('chrome');
    const now = this.clock.now();
    try {
      const res = await get(this.chromeUrl, meta, LOG_LIST_MAX_BYTES);
      if (res.status === 304) {
        await this.writeMeta('chrome', { ...meta, checkedAt: now });
        return { list: 'chrome', status: 'not-modified', message: 'The CT log list has not changed.' };
      }
      const sig = await get(this.sigUrl, {}, SIGNATURE_MAX_BYTES);
      if (sig.status !== 200) throw fetchFailed(this.sigUrl, `HTTP ${sig.status}`);
      let list: LogList;
      try {
        list = parseSignedLogList(res.body, sig.body, this.opts.publicKey ?? googleLogListKey());
      } catch (e) {
        return { list: 'chrome', status: 'rejected', message: isMessage(e) };
      }
      if (list.timestamp < this.chrome.timestamp) {
        return {
          list: 'chrome',
          status: 'rejected',
          message: `The downloaded CT log list (${new Date(list.timestamp).toISOString()}) is older than the one in use; kept the newer one.`,
        };
      }
      await writeFileAtomic(this.file('log_list.sig'), sig.body, { mode: 0o600 });
      await writeFileAtomic(this.file('log_list.json'), res.body, { mode: 0o600 });
      await this.writeMeta('chrome', { etag: res.etag, lastModified: res.lastModified, checkedAt: now });
      this.chrome = list;
      return { list: 'chrome', status: 'updated', message: `CT log list updated to version ${list.version}.` };
    } catch (e) {
      return { list: 'chrome', status: 'failed', message: isMessage(e) };
    }
  }

  private async refreshApple(url: string): Promise<RefreshOutcome> {
    const meta = await this.readMeta('apple');
    const now = this.clock.now();
    try {
      const res = await get(url, this.apple ? meta : {}, LOG_LIST_MAX_BYTES);
      if (res.status === 304) {
        await this.writeMeta('apple', { ...meta, checkedAt: now });
        return { list: 'apple', status: 'not-modified', message: "Apple's CT log list has not changed." };
      }
      let list: LogList;
      try {
        list = parseLogList(res.body, 'apple', now);
      } catch (e) {
        return { list: 'apple', status: 'rejected', message: isMessage(e) };
      }
      await writeFileAtomic(this.file('apple_log_list.json'), res.body, { mode: 0o600 });
      await this.writeMeta('apple', { etag: res.etag, lastModified: res.lastModified, checkedAt: now });
      this.apple = list;
      return { list: 'apple', status: 'updated', message: `Apple's CT log list updated to version ${list.version}.` };
    } catch (e) {
      return { list: 'apple', status: 'failed', message: isMessage(e) };
    }
  }

  /**
   * Loads the saved copies, then refreshes when a day has passed since the last check (but not
   * before `firstDelayMs` from now), and again every day (an hour after a failure).
   * `onRefresh` hears every outcome.
   */
  async start(onRefresh: (outcomes: RefreshOutcome[]) => void = () => {}, firstDelayMs = 0): Promise<void> {
    await this.load();
    const interval = this.opts.intervalMs ?? REFRESH_INTERVAL_MS;
    const last = (await this.readMeta('chrome')).checkedAt ?? 0;
    const tick = async () => {
      const outcomes = await this.refresh();
      for (const o of outcomes) this.opts.events?.emit('ct:log-list', o);
      onRefresh(outcomes);
      const failed = outcomes.some((o) => o.status === 'failed');
      if (this.timer) this.timer = this.clock.at(this.clock.now() + (failed ? Math.min(RETRY_AFTER_FAILURE_MS, interval) : interval), () => void tick());
    };
    this.timer = this.clock.at(Math.max(this.clock.now() + firstDelayMs, last + interval), () => void tick());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}

interface GetResult {
  status: number;
  body: Buffer;
  etag?: string;
  lastModified?: string;
}

async function get(url: string, meta: Meta, maxBytes: number): Promise<GetResult> {
  const headers: Record<string, string> = {};
  if (meta.etag) headers['if-none-match'] = meta.etag;
  if (meta.lastModified) headers['if-modified-since'] = meta.lastModified;
  let res: Response;
  let body: Buffer | null = null;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (res.status === 200 || res.status === 304) body = await readCappedBody(res, maxBytes);
  } catch (e) {
    throw fetchFailed(url, (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message);
  }
  if (res.status !== 200 && res.status !== 304) throw fetchFailed(url, `HTTP ${res.status}`);
  if (body === null) throw fetchFailed(url, `it sent more than ${byteLimitText(maxBytes)}`);
  return {
    status: res.status,
    body,
    etag: res.headers.get('etag') ?? undefined,
    lastModified: res.headers.get('last-modified') ?? undefined,
  };
}

function fetchFailed(url: string, why: string): HomeportError {
  return new HomeportError('ct.log-list-unreachable', `The CT log list could not be downloaded from ${url} (${why}).`, {
    fix: "Check this machine's internet connection; Homeport keeps using the list it has and tries again later.",
  });
}

function isMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
