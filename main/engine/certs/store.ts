import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes, createPrivateKey, X509Certificate } from 'node:crypto';
import { fsyncDir, writeFileAtomic, writeNewFile } from '../atomic-file';
import { HomeportError } from '../errors';
import type { IssuedCertificate, KeyType } from './types';
import { certFacts, issuerName } from './pem';
import { acquireLock, type Lock } from './lock';
import { fsError } from './fs-error';

/**
 * The certificate store: <data>/certs/<id>/
 *   current/  the certificate being served  {cert,chain,fullchain,key}.pem + meta.json
 *   next/     a successor resting until it is ready to serve
 *   history/<serial>/  certificates that were replaced
 *   state.json  the lifecycle's record;  lock  the cross-process lock
 * A slot directory is always complete: it is staged under a temporary name, every file is
 * fsynced, and only then renamed into place. Promotion next → current is journaled in
 * promote.json so a crash between its renames is finished on the next start (recover()).
 */
export type Slot = 'current' | 'next';

export interface StoredMeta {
  serial: string;
  /** DNS names on the certificate. */
  names: string[];
  keyType: KeyType;
  ca: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  /** When Homeport stored it. */
  storedAt: string;
  sha256: string;
  /** True when there was no earlier certificate to keep serving meanwhile. */
  firstIssuance: boolean;
}

export interface StoredCert {
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  keyPem: string;
  meta: StoredMeta;
  dir: string;
}

interface PromoteJournal {
  from?: string;
  to: string;
}

const FILES = ['cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem', 'meta.json'] as const;
const HISTORY_KEEP = 20;

export class CertStore {
  readonly root: string;

  constructor(readonly dataDir: string) {
    this.root = path.join(dataDir, 'certs');
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }

  /** Takes the certificate's cross-process lock (fails at once if a live process holds it). */
  lock(id: string, waitMs = 0): Promise<Lock> {
    return acquireLock(path.join(this.dir(id), 'lock'), { what: `certificate "${id}"`, waitMs });
  }

  async read(id: string, slot: Slot): Promise<StoredCert | undefined> {
    return readSlot(path.join(this.dir(id), slot));
  }

  /** Stores a freshly issued certificate as the resting successor (replacing an older resting one). */
  async writeNext(
    id: string,
    issued: IssuedCertificate,
    info: { keyType: KeyType; firstIssuance: boolean; now: number },
  ): Promise<StoredCert> {
    const facts = certFacts(issued.certPem);
    checkKeyMatches(issued);
    const meta: StoredMeta = {
      serial: facts.serial,
      names: facts.names,
      keyType: info.keyType,
      ca: issued.ca,
      issuer: issuerName(facts.issuer),
      notBefore: new Date(facts.notBefore).toISOString(),
      notAfter: new Date(facts.notAfter).toISOString(),
      storedAt: new Date(info.now).toISOString(),
      sha256: facts.sha256,
      firstIssuance: info.firstIssuance,
    };
    const certDir = this.dir(id);
    try {
      await fs.mkdir(path.join(certDir, 'history'), { recursive: true, mode: 0o700 });
      const staging = path.join(certDir, `.staging-${randomBytes(6).toString('hex')}`);
      await fs.mkdir(staging, { mode: 0o700 });
      const chainPem = normalizePem(issued.chainPem);
      const certPem = normalizePem(issued.certPem);
      const contents: Record<(typeof FILES)[number], string> = {
        'cert.pem': certPem,
        'chain.pem': chainPem,
        'fullchain.pem': certPem + chainPem,
        'key.pem': normalizePem(issued.keyPem),
        'meta.json': JSON.stringify(meta, null, 2) + '\n',
      };
      for (const name of FILES) await writeNewFile(path.join(staging, name), contents[name]);
      await fsyncDir(staging);
      const next = path.join(certDir, 'next');
      const older = await readSlot(next);
      if (older) await this.moveToHistory(id, next, older.meta.serial);
      else await fs.rm(next, { recursive: true, force: true });
      await fs.rename(staging, next);
      await fsyncDir(certDir);
    } catch (e) {
      throw fsError(e, certDir);
    }
    return (await this.read(id, 'next'))!;
  }

  /**
   * The promotion as separate steps, each one rename or write that is atomic on its own.
   * promote() runs them all; tests run a prefix to reproduce a crash between any two.
   */
  promoteSteps(id: string): Array<() => Promise<void>> {
    const certDir = this.dir(id);
    const journal = path.join(certDir, 'promote.json');
    let plan: PromoteJournal;
    return [
      async () => {
        const next = await readSlot(path.join(certDir, 'next'));
        if (!next) throw new HomeportError('certs.no-successor', `Certificate "${id}" has no successor to activate.`);
        const current = await readSlot(path.join(certDir, 'current'));
        plan = { from: current?.meta.serial, to: next.meta.serial };
        await writeFileAtomic(journal, JSON.stringify(plan));
      },
      async () => {
        if (plan.from) await this.moveToHistory(id, path.join(certDir, 'current'), plan.from);
      },
      async () => {
        await fs.rename(path.join(certDir, 'next'), path.join(certDir, 'current'));
        await fsyncDir(certDir);
      },
      async () => {
        await fs.rm(journal, { force: true });
        await fsyncDir(certDir);
        await this.pruneHistory(id);
      },
    ];
  }

  /** next → current (the previous current goes to history). Hold the lock while calling. */
  async promote(id: string): Promise<{ current: StoredCert; previous?: StoredMeta }> {
    const previous = (await this.read(id, 'current'))?.meta;
    try {
      for (const step of this.promoteSteps(id)) await step();
    } catch (e) {
      throw e instanceof HomeportError ? e : fsError(e, this.dir(id));
    }
    return { current: (await this.read(id, 'current'))!, previous };
  }

  /** Moves the resting successor to history/ (it will never be served). Hold the lock. */
  async setAside(id: string): Promise<void> {
    const next = await this.read(id, 'next');
    if (!next) return;
    try {
      await this.moveToHistory(id, path.join(this.dir(id), 'next'), next.meta.serial);
      await this.pruneHistory(id);
    } catch (e) {
      throw fsError(e, this.dir(id));
    }
  }

  /**
   * Brings a certificate directory back to a consistent state after a crash: finishes an
   * interrupted promotion and removes half-written staging directories. Hold the lock.
   * Returns what it did, for the log.
   */
  async recover(id: string): Promise<string[]> {
    const certDir = this.dir(id);
    const done: string[] = [];
    let entries: string[];
    try {
      entries = await fs.readdir(certDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return done;
      throw fsError(e, certDir);
    }
    for (const name of entries.filter((n) => n.startsWith('.staging-'))) {
      await fs.rm(path.join(certDir, name), { recursive: true, force: true });
      done.push(`removed the unfinished ${name}`);
    }
    const journalFile = path.join(certDir, 'promote.json');
    let plan: PromoteJournal | undefined;
    try {
      plan = JSON.parse(await fs.readFile(journalFile, 'utf8')) as PromoteJournal;
    } catch {
      plan = undefined;
    }
    if (plan) {
      const current = await readSlot(path.join(certDir, 'current'));
      const next = await readSlot(path.join(certDir, 'next'));
      if (next?.meta.serial === plan.to) {
        if (current && current.meta.serial === plan.from) await this.moveToHistory(id, path.join(certDir, 'current'), plan.from);
        await fs.rename(path.join(certDir, 'next'), path.join(certDir, 'current'));
        done.push(`finished activating ${plan.to}`);
      } else if (!current && plan.from) {
        // Nothing to promote and nothing current: put the previous certificate back.
        await fs.rename(path.join(certDir, 'history', plan.from), path.join(certDir, 'current'));
        done.push(`restored ${plan.from}`);
      }
      await fs.rm(journalFile, { force: true });
      await fsyncDir(certDir);
    } else {
      await fs.rm(journalFile, { force: true });
    }
    return done;
  }

  async history(id: string): Promise<StoredMeta[]> {
    const dir = path.join(this.dir(id), 'history');
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return [];
    }
    const metas: StoredMeta[] = [];
    for (const n of names) {
      const slot = await readSlot(path.join(dir, n));
      if (slot) metas.push(slot.meta);
    }
    return metas.sort((a, b) => b.storedAt.localeCompare(a.storedAt));
  }

  async readJson<T>(id: string, file: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.dir(id), file), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  async writeJson(id: string, file: string, value: unknown): Promise<void> {
    try {
      await writeFileAtomic(path.join(this.dir(id), file), JSON.stringify(value, null, 2) + '\n');
    } catch (e) {
      throw fsError(e, this.dir(id));
    }
  }

  /**
   * Takes a certificate out of service; its files move to <data>/removed/<id>-<time>/
   * (outside certs/, so nothing serves them), never deleted outright.
   */
  async remove(id: string, now: number): Promise<void> {
    const target = path.join(this.dataDir, 'removed', `${id}-${now}`);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await fs.rename(this.dir(id), target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, this.dir(id));
    }
  }

  private async moveToHistory(id: string, from: string, serial: string): Promise<void> {
    const historyDir = path.join(this.dir(id), 'history');
    await fs.mkdir(historyDir, { recursive: true, mode: 0o700 });
    let target = path.join(historyDir, serial);
    if (await exists(target)) target = `${target}-${randomBytes(3).toString('hex')}`;
    await fs.rename(from, target);
    await fsyncDir(historyDir);
  }

  private async pruneHistory(id: string): Promise<void> {
    const dir = path.join(this.dir(id), 'history');
    const all = await this.history(id);
    const names = await fs.readdir(dir);
    const keep = new Set(all.slice(0, HISTORY_KEEP).map((m) => m.serial));
    for (const n of names) {
      if (!keep.has(n.split('-')[0]!)) await fs.rm(path.join(dir, n), { recursive: true, force: true });
    }
  }
}

async function readSlot(dir: string): Promise<StoredCert | undefined> {
  try {
    const [certPem, chainPem, fullchainPem, keyPem, metaText] = await Promise.all(
      FILES.map((f) => fs.readFile(path.join(dir, f), 'utf8')),
    );
    return { certPem: certPem!, chainPem: chainPem!, fullchainPem: fullchainPem!, keyPem: keyPem!, meta: JSON.parse(metaText!), dir };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || e instanceof SyntaxError) return undefined;
    throw fsError(e, dir);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

function normalizePem(pem: string): string {
  const t = pem.trim();
  return t ? t.replace(/\r\n/g, '\n') + '\n' : '';
}

function checkKeyMatches(issued: IssuedCertificate): void {
  const cert = new X509Certificate(issued.certPem);
  if (!cert.checkPrivateKey(createPrivateKey(issued.keyPem))) {
    throw new HomeportError('certs.key-mismatch', 'The issued certificate does not belong to its private key.', {
      fix: 'This is a bug in the issuer; nothing was stored. Please report it.',
    });
  }
}
