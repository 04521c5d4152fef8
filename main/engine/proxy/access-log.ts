import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import * as path from 'node:path';

/** One line of the access log. */
export interface AccessEntry {
  time: string;
  remote: string;
  proto: string;
  method: string;
  host: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  route?: string;
  upstream?: string;
  user?: string;
  error?: string;
}

export type AccessLogger = (entry: AccessEntry) => void;

/**
 * JSON lines appended to a file through one buffered stream: the request path only
 * formats a string, the stream batches the writes.
 */
export function fileAccessLog(file: string): { log: AccessLogger; close(): Promise<void> } {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const out: WriteStream = createWriteStream(file, { flags: 'a', mode: 0o600 });
  return {
    log: (entry) => void out.write(JSON.stringify(entry) + '\n'),
    close: () => new Promise((resolve) => out.end(() => resolve())),
  };
}
