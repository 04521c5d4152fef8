import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { HomeportError } from '../errors';
import { LogList, parseSignedLogList } from './log-list';

/**
 * The log list shipped with Homeport (main/engine/ct/data/). tsc does not copy data files, so
 * it is found next to this module when a packager put it there, else in the source tree
 * (dist/main/engine/ct → repository root → main/engine/ct/data).
 */
const CANDIDATES = [path.join(__dirname, 'data'), path.resolve(__dirname, '..', '..', '..', '..', 'main', 'engine', 'ct', 'data')];

export function shippedDataDir(): string {
  const dir = CANDIDATES.find((d) => existsSync(path.join(d, 'log_list.json')));
  if (!dir) {
    throw new HomeportError('ct.snapshot-missing', 'The CT log list that ships with Homeport is missing.', {
      fix: 'Reinstall Homeport, or pass a log list with --log-list.',
      details: { searched: CANDIDATES },
    });
  }
  return dir;
}

/** Google's public key for the Chrome log list, PEM. */
export function googleLogListKey(): string {
  return readFileSync(path.join(shippedDataDir(), 'log_list_pubkey.pem'), 'utf8');
}

let cached: LogList | undefined;

/** The shipped snapshot, signature verified (once per process). */
export function shippedLogList(): LogList {
  if (!cached) {
    const dir = shippedDataDir();
    cached = parseSignedLogList(
      readFileSync(path.join(dir, 'log_list.json')),
      readFileSync(path.join(dir, 'log_list.sig')),
      googleLogListKey(),
    );
  }
  return cached;
}
