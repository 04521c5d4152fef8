import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import type { SpawnOptions } from 'node:child_process';

/**
 * A data directory this test's child processes cannot write. Root ignores file modes, so
 * under root (CI containers) the children run as nobody (uid 65534) against a root-owned
 * 0755 directory; otherwise the directory is made 0500 for the current user.
 */
export function unwritableDir(): { dir: string; spawnAs: Pick<SpawnOptions, 'uid' | 'gid'> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'homeport-ro-'));
  const root = process.getuid?.() === 0;
  chmodSync(dir, root ? 0o755 : 0o500);
  after(() => {
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, spawnAs: root ? { uid: 65534, gid: 65534 } : {} };
}
