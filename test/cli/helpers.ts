import { spawn, type SpawnOptions } from 'node:child_process';
import { cliPath } from '../helpers/paths';
import type { Pebble } from '../helpers/pebble';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `homeport …` as a real process. `onStderr` sees progress as it comes (e.g. to kill it mid-way). */
export function homeport(
  args: string[],
  opts: { env?: Record<string, string>; spawn?: SpawnOptions; onStderr?: (text: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, HOMEPORT_DATA_DIR: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts.spawn,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      opts.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The flags that point `homeport` at a test Pebble. */
export function pebbleFlags(pebble: Pebble): string[] {
  return [
    '--ca', pebble.directoryUrl,
    '--ca-root', pebble.caRootFile,
    '--email', 'admin@example.test',
    '--accept-tos',
    '--http-port', String(pebble.httpPort),
    '--https-port', String(pebble.tlsPort),
  ];
}

/** The failure line: the last stderr line, which must be the only `homeport:` line and carry no stack. */
export function reason(r: CliResult): string {
  const lines = r.stderr.trim().split('\n');
  const failures = lines.filter((l) => l.startsWith('homeport: '));
  if (failures.length !== 1) throw new Error(`expected one "homeport:" line, got:\n${r.stderr}`);
  if (/^\s+at /m.test(r.stderr)) throw new Error(`a stack trace leaked:\n${r.stderr}`);
  return failures[0]!;
}
