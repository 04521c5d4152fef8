import { mkdtempSync, readFileSync, rmSync, chmodSync } from 'node:fs';
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

/**
 * Spawn options that make a child an ordinary user (nobody, when the tests run as root), and
 * whether that user is kept off `port` here (Linux's ip_unprivileged_port_start, 1024 unless
 * lowered, as some container runtimes do).
 */
export function ordinaryUser(port: number): { spawnAs: Pick<SpawnOptions, 'uid' | 'gid'>; portIsPrivileged: boolean } {
  let start = 1024;
  try {
    start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    /* not Linux, or no such setting: the classic 1024 */
  }
  return { spawnAs: process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}, portIsPrivileged: port < start };
}
