import { createWriteStream, fstatSync, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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

export interface AccessLogOptions {
  /** Told once when lines cannot be written, and once when they can again. */
  notice: (line: string) => void;
  /** How often the path is checked for a rotation, and a broken log is opened again. */
  checkMs?: number;
}

/** About 7,000 lines: a stalled disk costs this much memory, not an ever-growing buffer. */
const MAX_PENDING_BYTES = 1 << 20;

/**
 * JSON lines appended to a file through one buffered stream: the request path only
 * formats a string, the stream batches the writes. A log that cannot be written (disk full,
 * a directory or unwritable path, a disk that stalls) never stops the serving: lines are
 * dropped and counted meanwhile. A file moved away (logrotate) is followed by a new one at
 * the path, noticed by polling, which works the same in every helper process.
 */
export function fileAccessLog(file: string, opts: AccessLogOptions): { log: AccessLogger; close(): Promise<void> } {
  let out: WriteStream | undefined;
  /** dev:ino of the file `out` appends to. */
  let opened = '';
  /** Why lines are being lost, as reported; undefined while all is well. */
  let trouble: string | undefined;
  let dropped = 0;
  let closed = false;

  const fail = (why: string) => {
    if (trouble === undefined) opts.notice(`The access log ${file} cannot be written (${why}); requests are served, their lines are dropped until it can.`);
    trouble = why;
  };
  const recovered = () => {
    if (trouble === undefined) return;
    opts.notice(`The access log ${file} is written again; ${dropped} line${dropped === 1 ? ' was' : 's were'} dropped.`);
    trouble = undefined;
    dropped = 0;
  };
  const open = () => {
    let fd: number;
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fd = openSync(file, 'a', 0o600);
      const st = fstatSync(fd);
      opened = `${st.dev}:${st.ino}`;
    } catch (e) {
      return fail(errorText(e));
    }
    const stream = createWriteStream(file, { fd });
    stream.on('error', (e) => {
      if (out === stream) out = undefined;
      fail(errorText(e));
    });
    out = stream;
  };
  const check = async () => {
    if (!out) return open();
    const current = await stat(file).then(
      (st) => `${st.dev}:${st.ino}`,
      (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? '' : opened),
    );
    if (closed || !out || current === opened) return;
    // The old file gets what is still buffered for it, new lines go to the new file.
    const old = out;
    out = undefined;
    open();
    old.end();
  };

  open();
  const timer = setInterval(() => void check(), opts.checkMs ?? 5_000);
  timer.unref();
  return {
    log: (entry) => {
      if (!out) return void dropped++;
      if (out.writableLength > MAX_PENDING_BYTES) {
        fail('the disk does not keep up');
        return void dropped++;
      }
      const line = JSON.stringify(entry) + '\n';
      if (trouble === undefined) out.write(line);
      else out.write(line, (e) => e || recovered());
    },
    close: () => {
      closed = true;
      clearInterval(timer);
      const last = out;
      out = undefined;
      if (!last) return Promise.resolve();
      return new Promise((resolve) => {
        last.once('close', () => resolve());
        last.end();
      });
    },
  };
}

function errorText(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}
