import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const made = new Set<string>();

/**
 * A fresh directory removed when the test process ends (each test file is its own process).
 * Not a node:test after() hook: one registered inside a before() hook runs when that hook
 * ends, which would remove the directory before the tests use it.
 */
export function tmpDir(prefix = 'homeport-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  if (made.size === 0) process.once('exit', removeAll);
  made.add(dir);
  return dir;
}

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}
