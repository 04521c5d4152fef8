import * as http from 'node:http';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import type { AcmeChallenge, CaClient } from '../acme/client';
import { ACME_TLS_ALPN, ChallengeStore, HTTP01_PATH_PREFIX } from '../acme/challenges';
import { capitalized } from '../acme/cas';
import { generateKey, keyToPem } from '../acme/keys';
import { AcmeProblemError } from '../acme/problems';
import { http01Solver, Solver, Solvers, tlsAlpn01Solver } from '../acme/solvers';
import type { ChallengeType } from '../certs/types';
import { isHomeportError } from '../errors';
import { check, CheckResult } from './types';

/**
 * Check 5, the definitive part: a real order at a staging CA with every challenge answered
 * for real, and then nothing more. The authorizations are deactivated and the order is
 * never finalized, so no certificate is issued: it counts against no production limit and
 * against no "certificates per domain" limit even on staging, only against staging's
 * generous new-order limit.
 */
export interface DryRunOptions {
  /** A client with its account set (ensureAccount), at the staging CA. */
  client: CaClient;
  names: string[];
  challenge: ChallengeType;
  httpPort: number;
  httpsPort: number;
  /** Solvers to use instead of the built-in http-01 / tls-alpn-01 listeners (dns-01 needs one). */
  solvers?: Solvers;
  signal?: AbortSignal;
}

export interface DryRunOutcome {
  /** Per name: pass (validated) or fail (with the CA's problem in words). */
  results: Map<string, CheckResult>;
}

/** Short-lived listeners answering from a ChallengeStore, for the duration of the dry run. */
async function listen(store: ChallengeStore, challenge: ChallengeType, opts: DryRunOptions): Promise<() => Promise<void>> {
  if (challenge === 'http-01') {
    const srv = http.createServer((req, res) => {
      const url = req.url ?? '';
      const answer = url.startsWith(HTTP01_PATH_PREFIX) ? store.getHttp01(url.slice(HTTP01_PATH_PREFIX.length)) : undefined;
      res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' }).end(answer ?? 'not found');
    });
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(opts.httpPort, resolve));
    return () => new Promise((resolve) => srv.close(() => resolve()));
  }
  if (challenge === 'tls-alpn-01') {
    const srv = tls.createServer({
      ALPNProtocols: [ACME_TLS_ALPN],
      SNICallback: (name, cb) => cb(null, store.getTlsAlpn01(name)),
    });
    srv.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(opts.httpsPort, resolve));
    return () => new Promise((resolve) => srv.close(() => resolve()));
  }
  return async () => undefined;
}

export async function dryRun(opts: DryRunOptions): Promise<DryRunOutcome> {
  const { client, challenge } = opts;
  const results = new Map<string, CheckResult>();
  const store = new ChallengeStore();
  const solver: Solver | undefined =
    opts.solvers?.[challenge] ??
    (challenge === 'http-01'
      ? http01Solver(store)
      : challenge === 'tls-alpn-01'
        ? tlsAlpn01Solver(store, () => generateKey('ec256').then(keyToPem))
        : undefined);
  if (!solver) {
    for (const n of opts.names) {
      results.set(n, check('dry-run', 'skip', `Not run: ${challenge} needs a DNS provider, and none is configured.`, [], 'Configure a DNS provider, then run the dry run again.'));
    }
    return { results };
  }
  const close = opts.solvers?.[challenge] ? async () => undefined : await listen(store, challenge, opts);
  const ca = client.label;
  try {
    const order = await client.createOrder(
      opts.names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n })),
      { signal: opts.signal },
    );
    const evidence = [`order ${order.url} at ${ca} (never finalized)`];
    for (const authz of await client.authorizations(order, opts.signal)) {
      const name = authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
      if (authz.status === 'valid') {
        results.set(name, check('dry-run', 'pass', `${capitalized(ca)} already holds a valid authorization for ${name}.`, [...evidence, `authorization ${authz.url}: valid`]));
        continue;
      }
      const ch = authz.challenges.find((c) => c.type === challenge) as AcmeChallenge | undefined;
      if (!ch) {
        results.set(name, check('dry-run', 'fail', `${capitalized(ca)} does not offer ${challenge} for ${name} (it offers ${authz.challenges.map((c) => c.type).join(', ')}).`, evidence, 'Use one of the offered challenges.'));
        continue;
      }
      const answer = await client.answer(ch);
      try {
        // Inside the try: a present() that wrote a TXT record and then timed out is cleaned up too.
        await solver.present(authz.identifier.value, ch.token, answer, opts.signal);
        const final = await client.validate(authz, ch, { challengeType: challenge, signal: opts.signal });
        const done = (final.challenges.find((c) => c.type === challenge) ?? ch) as AcmeChallenge;
        const record = describeValidation(done);
        results.set(name, check('dry-run', 'pass', `${capitalized(ca)} validated ${name} with ${challenge}${record ? ` (${record})` : ''}: a real issuance will get through.`, [...evidence, `authorization ${authz.url}: valid`]));
        // Leave nothing usable behind: the next real order validates afresh.
        await client.deactivate(authz, opts.signal).catch(() => undefined);
      } catch (e) {
        if (!(e instanceof AcmeProblemError) || !e.challenge) throw e;
        const at = e.addressUsed ? [`the CA connected to ${e.addressUsed}`] : [];
        results.set(name, check('dry-run', 'fail', e.message, [...evidence, `authorization ${authz.url}: invalid`, ...at], e.fix ?? null));
      } finally {
        // A failed cleanup must not hide why the dry run failed.
        await solver.cleanup(authz.identifier.value, ch.token, answer).catch(() => undefined);
      }
    }
  } catch (e) {
    const message = isHomeportError(e) ? e.message : (e as Error).message;
    const fix = isHomeportError(e) ? (e.fix ?? null) : null;
    for (const n of opts.names) if (!results.has(n)) results.set(n, check('dry-run', 'fail', `The dry run at ${ca} failed: ${message}`, [], fix));
  } finally {
    await close();
  }
  return { results };
}

function describeValidation(c: AcmeChallenge): string | undefined {
  const r = c.validationRecord?.[0];
  if (!r) return undefined;
  const where = r.url ?? (r.hostname ? `${r.hostname}${r.port ? `:${r.port}` : ''}` : undefined);
  return [where && `the CA connected to ${where}`, r.addressUsed && `at ${r.addressUsed}`].filter(Boolean).join(' ') || undefined;
}
