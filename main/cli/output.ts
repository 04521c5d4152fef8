import { isHomeportError } from '../engine/errors';

/**
 * How every command talks to the terminal: results on stdout (JSON with --json), progress
 * and errors on stderr, and one line of reason on failure.
 */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printLine(line = ''): void {
  process.stdout.write(line + '\n');
}

/** Progress goes to stderr so `--json` output stays parseable; silent when not a terminal and quiet. */
export function progress(step: string): void {
  process.stderr.write(`… ${step}\n`);
}

/**
 * Report a failure as one line (plus its fix) and set the exit code. With --json the error
 * is also printed as `{"error": {...}}` on stdout so scripts can read it.
 */
export function fail(e: unknown, opts: { json?: boolean; exitCode?: number } = {}): void {
  const err = isHomeportError(e)
    ? e.toJSON()
    : { code: 'internal', message: e instanceof Error ? e.message : String(e) };
  if (opts.json) printJson({ error: err });
  const line = 'fix' in err && err.fix ? `${err.message} Fix: ${err.fix}` : err.message;
  process.stderr.write(`homeport: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
  if (process.env.HOMEPORT_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exitCode = opts.exitCode ?? 1;
}
