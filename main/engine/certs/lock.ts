import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeNewFile } from '../atomic-file';
import { HomeportError } from '../errors';

/**
 * A cross-process lock: a file created with O_EXCL that holds the owner's pid. A lock whose
 * owner died (SIGKILL, power cut) is taken over; a live owner means "busy". Taking over is
 * itself guarded by a second O_EXCL file, so two processes that both find the same stale
 * lock cannot both remove it and then both believe they own the fresh one.
 */
export interface Lock {
  readonly file: string;
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  nonce: string;
  since: string;
  /** Linux: the boot and the process start time, so a pid reused after a crash or reboot is not taken for the owner. */
  boot?: string;
  start?: string;
}

export interface LockOptions {
  /** Shown in the "busy" error, e.g. `certificate "example.com"`. */
  what: string;
  /** Keep trying this long while a live process holds the lock (default: fail at once). */
  waitMs?: number;
}

/** How long a lock or takeover guard without a readable owner is left to its creator to write one. */
const GRACE_MS = 2000;

export async function acquireLock(file: string, opts: LockOptions): Promise<Lock> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const me = self();
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    if (await tryCreate(file, me)) return makeLock(file, me);
    const holder = await readOwner(file);
    if (holder === 'gone') continue;
    if (holder === undefined && (await youngerThan(file, GRACE_MS))) {
      // Its owner may be between creating the file and writing its pid: give it a moment.
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    if (holder === undefined || !isAlive(holder)) {
      await takeOver(file, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      // The holder may be this very process (another engine in it, or other work of this one).
      const here = holder.pid === process.pid;
      throw new HomeportError(
        'certs.locked',
        here
          ? `Other work in this Homeport process is busy with ${opts.what} right now.`
          : `Another Homeport process (pid ${holder.pid}) is working on ${opts.what} right now.`,
        {
          fix: here ? 'Try again when that work (an issuance or renewal, say) has finished.' : `Wait for it to finish, or stop process ${holder.pid} and try again.`,
          details: { pid: holder.pid, lockFile: file },
        },
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tryCreate(file: string, me: Owner): Promise<boolean> {
  try {
    await writeNewFile(file, JSON.stringify(me));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** undefined: a lock file without a readable owner (crash between create and write). */
async function readOwner(file: string): Promise<Owner | undefined | 'gone'> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  try {
    const o = JSON.parse(text) as Owner;
    return Number.isInteger(o.pid) ? o : undefined;
  } catch {
    return undefined;
  }
}

async function youngerThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await fs.stat(file)).mtimeMs < ms;
  } catch {
    return false;
  }
}

function self(): Owner {
  return {
    pid: process.pid,
    nonce: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
    boot: bootId(),
    start: processStart(process.pid),
  };
}

function isAlive(owner: Owner): boolean {
  if (owner.boot && owner.boot !== bootId()) return false;
  if (owner.start && owner.start !== processStart(owner.pid)) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else; it is alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); the name field may hold spaces. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

async function takeOver(file: string, stale: Owner | undefined): Promise<void> {
  const guardFile = `${file}.takeover`;
  const me = self();
  if (!(await tryCreate(guardFile, me))) {
    const guard = await readOwner(guardFile);
    // A takeover guard left by a process that died mid-takeover is itself stale; one without
    // an owner yet gets the lock's grace, as its creator may be between create and write.
    if (guard !== 'gone' && (guard === undefined ? !(await youngerThan(guardFile, GRACE_MS)) : !isAlive(guard))) {
      await removeIfStill(guardFile, guard);
    }
    await new Promise((r) => setTimeout(r, 10));
    return;
  }
  try {
    // Remove the lock only if it is still the stale one we judged: someone may have taken
    // it over and released it, and a fresh owner may hold it by now.
    await removeIfStill(file, stale);
  } finally {
    // Only our own guard: another stands there only if ours was judged stale (we stalled past
    // the grace between creating and writing it), and its owner is mid-takeover now.
    await removeIfStill(guardFile, me);
  }
}

/**
 * Removes `file` only if it still holds `owner` (undefined: still no readable owner). Reading
 * and unlinking are two steps with no atomic compare-and-unlink between them: a file another
 * process puts there in that instant (after judging ours stale, or after a release) is still
 * removed. That window is one read long; an unchecked removal left it open for a whole takeover.
 */
async function removeIfStill(file: string, owner: Owner | undefined): Promise<void> {
  const now = await readOwner(file);
  if (now === 'gone') return;
  if (now === undefined ? owner === undefined : owner !== undefined && now.nonce === owner.nonce) await fs.rm(file, { force: true });
}

function makeLock(file: string, me: Owner): Lock {
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      await removeIfStill(file, me);
    },
  };
}

/** Runs fn while holding the lock. */
export async function withLock<T>(file: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(file, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
