import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { accountDir, ensureAccount, loadOrCreateAccountKey } from '../acme/accounts';
import { CA_PRESETS, ResolvedCa, capitalized, resolveCa } from '../acme/cas';
import { CaClient } from '../acme/client';
import { CaConnection, fetchDirectory, loadCaBundle } from '../acme/transport';
import type { Solvers } from '../acme/solvers';
import type { ChallengeType } from '../certs/types';
import { check, CheckResult } from './types';
import { dryRun } from './dry-run';
import type { PreflightCa } from './report';

/**
 * The CA as the checks need it: its CAA identities (known offline for presets, read from
 * the directory's meta.caaIdentities for a URL), whether it issues for IPs, this host's
 * account there; and the staging CA the dry run goes to.
 */
export interface CaChoice {
  ca: string;
  caRoot?: string;
  dataDir: string;
}

async function storedAccountUrl(dataDir: string, caId: string): Promise<string | undefined> {
  try {
    const json = JSON.parse(await fs.readFile(path.join(accountDir(dataDir, caId), 'account.json'), 'utf8')) as { url?: unknown };
    return typeof json.url === 'string' ? json.url : undefined;
  } catch {
    return undefined;
  }
}

export async function preflightCa(choice: CaChoice): Promise<{ ca: PreflightCa; resolved: ResolvedCa }> {
  const resolved = resolveCa({ ca: choice.ca, caRoot: choice.caRoot });
  let identities = resolved.caaIdentities;
  if (!resolved.preset) {
    // Only the directory is fetched (a GET); nothing is signed or ordered.
    const conn = new CaConnection(resolved.displayName, { caPem: choice.caRoot ? loadCaBundle(choice.caRoot) : undefined });
    try {
      identities = (await fetchDirectory(conn, resolved.directoryUrl)).meta?.caaIdentities ?? [];
    } finally {
      conn.close();
    }
  }
  return {
    ca: {
      id: resolved.id,
      displayName: resolved.displayName,
      identities,
      issuesForIp: resolved.issuesForIp,
      accountUrl: await storedAccountUrl(choice.dataDir, resolved.id),
    },
    resolved,
  };
}

/**
 * Where a dry run for this CA goes: Let's Encrypt's staging environment for Let's Encrypt
 * (production is never used), the directory itself for a URL the user named (a private or
 * test CA); other presets have no staging Homeport can use without separate credentials.
 */
export function stagingFor(resolved: ResolvedCa, caRoot?: string): ResolvedCa | { unavailable: string } {
  if (resolved.id === 'letsencrypt' || resolved.id === 'letsencrypt-staging') {
    return { ...CA_PRESETS['letsencrypt-staging'], preset: true };
  }
  if (!resolved.preset) return { ...resolved, caRoot };
  return {
    unavailable: `${capitalized(resolved.displayName)} has no staging environment Homeport can use without separate credentials. Run the dry run with --ca letsencrypt-staging: it tests the same ports and DNS.`,
  };
}

export interface DryRunSetup extends CaChoice {
  httpPort: number;
  httpsPort: number;
  email?: string;
  acceptTos?: boolean;
  eab?: { kid: string; hmacKey: string };
  /** Solvers beyond the built-in listeners: dns-01 through the configured provider. */
  solvers?: Solvers;
}

/** The dry-run function runPreflight calls once it knows the challenge. */
export function dryRunner(
  resolved: ResolvedCa,
  setup: DryRunSetup,
): (names: string[], challenge: ChallengeType) => Promise<Map<string, CheckResult>> {
  return async (names, challenge) => {
    const staging = stagingFor(resolved, setup.caRoot);
    if ('unavailable' in staging) {
      return new Map(names.map((n) => [n, check('dry-run', 'skip', `Not run: ${staging.unavailable}`)]));
    }
    const target: ResolvedCa = { ...staging, eab: setup.eab ?? staging.eab };
    let conn: CaConnection | undefined;
    try {
      conn = new CaConnection(target.displayName, { caPem: target.caRoot ? loadCaBundle(target.caRoot) : undefined });
      const dir = accountDir(setup.dataDir, target.id);
      const [key, directory] = await Promise.all([loadOrCreateAccountKey(dir), fetchDirectory(conn, target.directoryUrl)]);
      const client = new CaClient(conn, target.directoryUrl, key.pem, directory, target.eab);
      await ensureAccount(client, dir, target, { email: setup.email, acceptTos: setup.acceptTos, keyCreated: key.created });
      return (await dryRun({ client, names, challenge, httpPort: setup.httpPort, httpsPort: setup.httpsPort, solvers: setup.solvers })).results;
    } catch (e) {
      const err = e as Error & { fix?: string };
      return new Map(names.map((n) => [n, check('dry-run', 'fail', `The dry run at ${target.displayName} could not start: ${err.message}`, [], err.fix ?? null)]));
    } finally {
      conn?.close();
    }
  };
}
