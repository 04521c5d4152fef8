import { promises as fs } from 'node:fs';
import { createPrivateKey, generateKeyPair, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { writeFileAtomic, writeNewFile, fsyncDir } from '../atomic-file';
import { HomeportError } from '../errors';
import { capitalized, type ResolvedCa } from './cas';
import type { CaClient } from './client';

/**
 * One ACME account per CA, kept in <data>/accounts/<ca-id>/: key.pem (ECDSA P-256, 0600,
 * created once and never replaced) and account.json (the account URL). Reusing it avoids a
 * newAccount per issuance and keeps the CA's rate limits and history on one account.
 */
export interface StoredAccount {
  url: string;
  directoryUrl: string;
  email?: string;
  createdAt: string;
}

export function accountDir(dataDir: string, caId: string): string {
  return path.join(dataDir, 'accounts', caId);
}

export interface AccountKey {
  /** PKCS#8 PEM, as acme-client takes it. */
  pem: string;
  /** Made just now: no CA can know an account for it yet. */
  created: boolean;
}

/** The account key, created on first use. Two processes racing here end with the same key. */
export async function loadOrCreateAccountKey(dir: string): Promise<AccountKey> {
  const file = path.join(dir, 'key.pem');
  const read = async (): Promise<AccountKey> => {
    const pem = await fs.readFile(file, 'utf8');
    try {
      createPrivateKey(pem);
    } catch (e) {
      throw unreadable(file, e);
    }
    return { pem, created: false };
  };
  try {
    return await read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e instanceof HomeportError ? e : unreadable(file, e);
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  // Write aside, then link into place: link never replaces, so a key another process
  // created first wins and ours is dropped.
  const tmp = path.join(dir, `.key.pem.${randomBytes(6).toString('hex')}.tmp`);
  await writeNewFile(tmp, pem);
  try {
    await fs.link(tmp, file);
    await fsyncDir(dir);
    return { pem, created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    return await read();
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

function unreadable(file: string, e: unknown): HomeportError {
  return new HomeportError('acme.account-unreadable', `The ACME account key ${file} cannot be read.`, {
    fix: 'Check its permissions; if it is damaged, remove its folder and Homeport creates a new account.',
    cause: e,
  });
}

async function readStored(dir: string): Promise<StoredAccount | undefined> {
  try {
    const json = JSON.parse(await fs.readFile(path.join(dir, 'account.json'), 'utf8')) as StoredAccount;
    return typeof json.url === 'string' ? json : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes `client` use this CA's account: the stored one; else the CA's account for this key,
 * looked up without creating anything (account.json lost, or the CA forgot the stored URL);
 * else a new one after checking that the terms are accepted and EAB credentials are there
 * when the CA requires them.
 */
export async function ensureAccount(
  client: CaClient,
  dir: string,
  ca: ResolvedCa,
  opts: { email?: string; acceptTos?: boolean; forgetStored?: boolean; keyCreated?: boolean },
): Promise<StoredAccount> {
  const stored = await readStored(dir);
  const save = async (account: StoredAccount) => {
    await writeFileAtomic(path.join(dir, 'account.json'), JSON.stringify(account, null, 2) + '\n', { mode: 0o600 });
    return account;
  };
  if (stored && stored.directoryUrl === client.directoryUrl && !opts.forgetStored) {
    client.useAccount(stored.url);
    if (opts.email && opts.email !== stored.email) {
      await client.updateContact(opts.email);
      return save({ ...stored, email: opts.email });
    }
    return stored;
  }
  if (!opts.keyCreated) {
    const url = await client.findAccount();
    if (url) {
      if (opts.email && opts.email !== stored?.email) await client.updateContact(opts.email);
      return save({ url, directoryUrl: client.directoryUrl, email: opts.email ?? stored?.email, createdAt: stored?.createdAt ?? new Date().toISOString() });
    }
  }
  const tos = client.directory.meta?.termsOfService;
  // Re-registering a forgotten account: the terms were accepted when it was first created.
  const accepted = opts.acceptTos || opts.forgetStored;
  if (tos && !accepted) {
    throw new HomeportError('acme.tos-not-accepted', `${capitalized(ca.displayName)} asks you to accept its terms of service (${tos}) before it creates an account.`, {
      fix: `Read ${tos} and pass --accept-tos (or accept them in the app).`,
      details: { termsOfService: tos },
    });
  }
  if ((ca.eabRequired || client.directory.meta?.externalAccountRequired) && !ca.eab) {
    throw new HomeportError('acme.eab-required', `${capitalized(ca.displayName)} requires External Account Binding (EAB) credentials to create an account.`, {
      fix: `${ca.eabHint ?? 'Get an EAB key id and HMAC key from the CA.'} Then pass --eab-kid and --eab-hmac-key.`,
    });
  }
  const url = await client.createAccount({ email: opts.email, termsOfServiceAgreed: Boolean(tos && accepted) });
  return save({ url, directoryUrl: client.directoryUrl, email: opts.email, createdAt: new Date().toISOString() });
}
