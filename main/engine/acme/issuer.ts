import { X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { HomeportError } from '../errors';
import type { ChallengeType, IssueRequest, IssuedCertificate, Issuer, KeyType, RenewalWindow } from '../certs/types';
import type { RateLimitLedger } from '../preflight/rate-limits';
import { accountDir, ensureAccount, loadOrCreateAccountKey } from './accounts';
import { ariCertId, fetchRenewalInfo, toRenewalWindow } from './ari';
import { capitalized, resolveCa, type CaSpec, type ResolvedCa } from './cas';
import { ChallengeStore } from './challenges';
import { CaClient, type AcmeChallenge, type Authorization, type Order } from './client';
import type { DnsProvider } from './dns-provider';
import { createCsr, generateKey, keyToPem } from './keys';
import { isWildcard, normalizeNames } from './names';
import { RATE_LIMIT_MIN_MS } from './backoff';
import { AcmeProblemError, isCaSpecificFailure, RateLimitReachedError } from './problems';
import { dns01Solver, http01Solver, tlsAlpn01Solver, type Solvers } from './solvers';
import { CaConnection, fetchDirectory, loadCaBundle, type AcmeDirectory, type ServerDate } from './transport';

export interface AcmeIssuerOptions {
  /** Data directory; accounts live in <dataDir>/accounts/<ca-id>/. */
  dataDir: string;
  /** CAs in order of preference; later ones issue when earlier ones are down or refuse. */
  cas: CaSpec[];
  email?: string;
  /** The user accepted the CA's terms of service (needed once, when the account is created). */
  acceptTos?: boolean;
  /** Where http-01 and tls-alpn-01 answers go; serve it with challenge-listeners.ts or the proxy. */
  challenges?: ChallengeStore;
  dnsProvider?: DnsProvider;
  /** DNS server (host:port) where dns-01 records must be visible before validation. */
  resolver?: string;
  /** Challenges this host can answer; default http-01 and tls-alpn-01, plus dns-01 with a provider. */
  canServe?: ChallengeType[];
  dnsPropagationTimeoutMs?: number;
  /**
   * This host's record of what it asked of each CA (pre-flight's rate-limit ledger): an order
   * it says the CA would refuse is not sent (the next CA is tried), and orders, failed
   * validations, certificates and `rateLimited` answers are recorded in it.
   */
  ledger?: RateLimitLedger;
}

/** Picking order when the user forces nothing: the cheapest to serve first. */
const PRIORITY: ChallengeType[] = ['http-01', 'tls-alpn-01', 'dns-01'];

/** Problems where another challenge type may succeed (the port or answer, not the CA, failed). */
const VALIDATION_PROBLEMS = new Set(['connection', 'unauthorized', 'tls', 'incorrectResponse', 'dns']);

/** Directories change rarely; a long-running engine reads them again daily (as acme-client does). */
const SESSION_MAX_AGE_MS = 24 * 3_600_000;

interface Session {
  ca: ResolvedCa;
  openedAt: number;
  conn: CaConnection;
  directory: Promise<AcmeDirectory>;
  /** Started on first issuance: account key, account. */
  client?: Promise<CaClient>;
}

/**
 * Issues certificates from an ordered list of ACME CAs (Issuer in certs/types.ts). One
 * session per CA (connection, directory, account) is opened on first use and kept, so a
 * long-running engine pays the handshake and account lookup once.
 */
export class AcmeIssuer implements Issuer {
  readonly challenges: ChallengeStore;
  private readonly cas: ResolvedCa[];
  private readonly sessions = new Map<string, Session>();
  private readonly solvers: Solvers;
  private alpnKey?: Promise<string>;
  private reRegistering?: Promise<unknown>;

  constructor(private readonly opts: AcmeIssuerOptions) {
    if (opts.cas.length === 0) {
      throw new HomeportError('config.no-ca', 'No CA is configured.', { fix: 'Choose a CA, e.g. --ca letsencrypt.' });
    }
    this.cas = opts.cas.map(resolveCa);
    this.challenges = opts.challenges ?? new ChallengeStore();
    this.solvers = {
      'http-01': http01Solver(this.challenges),
      'tls-alpn-01': tlsAlpn01Solver(this.challenges, () => (this.alpnKey ??= generateKey('ec256').then(keyToPem))),
      ...(opts.dnsProvider
        ? { 'dns-01': dns01Solver(opts.dnsProvider, { resolver: opts.resolver, timeoutMs: opts.dnsPropagationTimeoutMs }) }
        : {}),
    };
  }

  /** The CAs in order, resolved (display name, CAA identities …). */
  get caList(): readonly ResolvedCa[] {
    return this.cas;
  }

  /** The latest HTTP Date a CA sent, with our clock at that moment (for clock-skew checks). */
  get lastServerDate(): (ServerDate & { ca: string }) | undefined {
    let latest: (ServerDate & { ca: string }) | undefined;
    for (const s of this.sessions.values()) {
      const d = s.conn.lastServerDate;
      if (d && (!latest || d.localTime > latest.localTime)) latest = { ...d, ca: s.ca.id };
    }
    return latest;
  }

  /**
   * A ready client (directory read, account in place) for one of the configured CAs (default
   * the first), for callers that speak ACME themselves, like the pre-flight dry run.
   */
  acmeClient(ca?: string): Promise<CaClient> {
    const resolved = ca === undefined ? this.cas[0] : this.cas.find((c) => c.id === ca || c.directoryUrl === ca);
    if (!resolved) {
      throw new HomeportError('config.unknown-ca', `"${ca}" is not one of the configured CAs.`, {
        fix: `Use one of ${this.cas.map((c) => c.id).join(', ')}.`,
      });
    }
    return this.client(resolved);
  }

  /** Connection and directory for a CA, opened once; a failure is forgotten so the next call retries. */
  private session(ca: ResolvedCa): Session {
    let s = this.sessions.get(ca.id);
    if (s && Date.now() - s.openedAt > SESSION_MAX_AGE_MS) {
      this.forget(s);
      s = undefined;
    }
    if (!s) {
      const conn = new CaConnection(ca.displayName, { caPem: ca.caRoot ? loadCaBundle(ca.caRoot) : undefined });
      const session: Session = { ca, openedAt: Date.now(), conn, directory: fetchDirectory(conn, ca.directoryUrl) };
      this.sessions.set(ca.id, session);
      session.directory.catch(() => this.forget(session));
      s = session;
    }
    return s;
  }

  private forget(s: Session): void {
    if (this.sessions.get(s.ca.id) === s) this.sessions.delete(s.ca.id);
    s.conn.close();
  }

  private client(ca: ResolvedCa): Promise<CaClient> {
    const s = this.session(ca);
    s.client ??= (async () => {
      const dir = accountDir(this.opts.dataDir, ca.id);
      const [key, directory] = await Promise.all([loadOrCreateAccountKey(dir), s.directory]);
      const c = new CaClient(s.conn, ca.directoryUrl, key.pem, directory, ca.eab);
      await ensureAccount(c, dir, ca, { email: this.opts.email, acceptTos: this.opts.acceptTos, keyCreated: key.created });
      return c;
    })();
    s.client.catch(() => this.forget(s));
    return s.client;
  }

  async issue(req: IssueRequest): Promise<IssuedCertificate> {
    const names = normalizeNames(req.names);
    this.checkChallengeChoice(names, req.challenge);
    const keyType: KeyType = req.keyType ?? 'ec256';
    // Key generation (slow for RSA 4096) overlaps with the network round trips.
    const key = generateKey(keyType);
    key.catch(() => undefined);
    const failures: { ca: ResolvedCa; error: unknown }[] = [];
    for (const [i, ca] of this.cas.entries()) {
      try {
        return await this.issueWithFallbackChallenges(ca, names, key, req);
      } catch (caught) {
        const e = this.explain(caught, ca, req.signal);
        if (e instanceof AcmeProblemError && e.shortType === 'rateLimited') await this.recordRateLimited(ca, names, e);
        failures.push({ ca, error: e });
        const next = this.cas[i + 1];
        if (!isCaSpecificFailure(e)) break;
        // The CA is down or refusing: the next attempt starts with a fresh connection and directory.
        const s = this.sessions.get(ca.id);
        if (s) this.forget(s);
        if (!next) break;
        req.onProgress?.(`${capitalized(ca.displayName)} failed (${e instanceof Error ? e.message : String(e)}); trying ${next.displayName}`);
      }
    }
    if (failures.length === 1) throw failures[0].error;
    const first = failures[0].error;
    throw new HomeportError(
      'acme.all-cas-failed',
      `No CA issued the certificate: ${failures.map((f) => `${capitalized(f.ca.displayName)}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join(' ')}`,
      {
        fix: first instanceof HomeportError ? first.fix : 'Try again later.',
        cause: first,
        details: { attempts: failures.map((f) => ({ ca: f.ca.id, ...(f.error instanceof HomeportError ? f.error.toJSON() : { message: String(f.error) }) })) },
      },
    );
  }

  /** acme-client's own plain Errors (a malformed answer, a timeout) in words. */
  private explain(e: unknown, ca: ResolvedCa, signal: AbortSignal | undefined): unknown {
    if (e instanceof HomeportError || signal?.aborted || !(e instanceof Error)) return e;
    return new HomeportError('acme.bad-response', `${capitalized(ca.displayName)} answered something unexpected: ${e.message}.`, {
      fix: 'Try again later; if it persists the CA may be misbehaving: use another CA.',
      cause: e,
    });
  }

  private async recordRateLimited(ca: ResolvedCa, names: string[], e: AcmeProblemError): Promise<void> {
    const account = (await this.sessions.get(ca.id)?.client?.catch(() => undefined))?.accountUrl;
    await this.ledgerRecord((l) =>
      l.recordRateLimited({ ca: issuedBy(ca), account, names, retryAfter: e.retryAfter ?? Date.now() + RATE_LIMIT_MIN_MS, detail: e.problem.detail ?? e.message }),
    );
  }

  private checkChallengeChoice(names: string[], forced: ChallengeType | undefined): void {
    const wildcard = names.find(isWildcard);
    if (wildcard && forced && forced !== 'dns-01') {
      throw new HomeportError('acme.wildcard-needs-dns01', `${wildcard} is a wildcard name, and CAs validate wildcards only with dns-01, not ${forced}.`, {
        fix: 'Use --challenge dns-01 with a DNS provider, or name each host instead of the wildcard.',
      });
    }
    if ((wildcard || forced === 'dns-01') && !this.solvers['dns-01']) {
      throw new HomeportError('acme.dns01-needs-provider', wildcard
        ? `${wildcard} is a wildcard name, which needs dns-01, and no DNS provider is configured.`
        : 'dns-01 was chosen but no DNS provider is configured.', {
        fix: 'Configure a DNS provider (RFC 2136 or Cloudflare) for this domain.',
      });
    }
  }

  private allowedChallenges(name: string, forced: ChallengeType | undefined, failed: ReadonlySet<ChallengeType> = new Set()): ChallengeType[] {
    if (isWildcard(name)) return ['dns-01'];
    if (forced) return [forced];
    const can = this.opts.canServe ?? PRIORITY.filter((t) => this.solvers[t]);
    return PRIORITY.filter((t) => can.includes(t) && this.solvers[t] && !failed.has(t));
  }

  /**
   * Without a forced challenge, a validation that fails with one type (port 80 closed, say)
   * is tried again on a new order with the next type that can work here; each type once.
   */
  private async issueWithFallbackChallenges(ca: ResolvedCa, names: string[], key: Promise<KeyObject>, req: IssueRequest): Promise<IssuedCertificate> {
    const failed = new Set<ChallengeType>();
    for (;;) {
      try {
        return await this.issueWith(ca, names, key, req, failed);
      } catch (e) {
        const type = e instanceof AcmeProblemError ? e.challenge : undefined;
        if (req.challenge || !type || !VALIDATION_PROBLEMS.has((e as AcmeProblemError).shortType)) throw e;
        failed.add(type);
        const next = this.allowedChallenges(names.find((n) => !isWildcard(n)) ?? names[0], undefined, failed)[0];
        if (!next || names.every(isWildcard)) throw e;
        req.onProgress?.(`${type} failed (${(e as Error).message}); trying ${next}`);
      }
    }
  }

  private async issueWith(ca: ResolvedCa, names: string[], keyP: Promise<KeyObject>, req: IssueRequest, failed: ReadonlySet<ChallengeType>): Promise<IssuedCertificate> {
    const progress = (step: string) => req.onProgress?.(step);
    const signal = req.signal;
    if (!ca.issuesForIp && names.some((n) => isIP(n))) {
      throw new HomeportError('acme.ip-not-supported', `${capitalized(ca.displayName)} does not issue certificates for IP addresses.`, {
        fix: "Use a domain name, or a CA that issues for IP addresses (Let's Encrypt).",
      });
    }
    progress(`Connecting to ${ca.displayName}`);
    const client = await this.client(ca);
    const directory = client.directory;
    // For a CA given by URL, its directory says which CAA values allow it (for the diagnosis).
    const caInfo: ResolvedCa = ca.caaIdentities.length ? ca : { ...ca, caaIdentities: directory.meta?.caaIdentities ?? [] };
    let replaces: string | undefined;
    if (req.replacing && directory.renewalInfo) {
      try {
        replaces = ariCertId(req.replacing);
      } catch {
        // A certificate without an AKI cannot be named; the order simply goes without `replaces`.
      }
    }
    const ledgerCa = issuedBy(ca);
    const renewal = req.replacing !== undefined && sameNames(req.replacing, names);
    await this.checkLedger(ca, client, names, renewal);
    const identifiers = names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }));
    progress(`Asking ${ca.displayName} for an order (${names.join(', ')})`);
    let order: Order;
    try {
      order = await client.createOrder(identifiers, { replaces, signal });
    } catch (e) {
      if (e instanceof AcmeProblemError && e.shortType === 'accountDoesNotExist') {
        await this.registerAgain(client, ca);
        order = await client.createOrder(identifiers, { replaces, signal });
      } else {
        // RFC 9773 §5: a CA may refuse `replaces` (already replaced, unknown); the new order stands without it.
        if (!replaces || !(e instanceof AcmeProblemError) || e.shortType === 'rateLimited') throw e;
        order = await client.createOrder(identifiers, { signal });
      }
    }
    const account = client.accountUrl;
    if (account) await this.ledgerRecord((l) => l.recordOrder({ ca: ledgerCa, account, names }));
    const authzs = await client.authorizations(order, signal);
    await Promise.all(authzs.map((a) => this.authorize(client, caInfo, a, req, failed)));

    progress('Finalizing the order');
    const keyPem = keyToPem(await keyP);
    const pem = await client.finalize(order, await createCsr(names, keyPem), { caaIdentities: caInfo.caaIdentities, signal });
    const [leaf, ...chain] = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!leaf) throw client.badResponse('the certificate download holds no PEM certificate');
    await this.ledgerRecord((l) => l.recordCertificate({ ca: ledgerCa, account, names, renewal }));
    return { certPem: leaf + '\n', chainPem: chain.map((b) => b + '\n').join(''), keyPem, ca: ledgerCa };
  }

  /**
   * The local rate-limit ledger, when given, refuses an order the CA would refuse anyway. It
   * is read again first: another process (`homeport issue` beside the app) may have ordered.
   */
  private async checkLedger(ca: ResolvedCa, client: CaClient, names: string[], renewal: boolean): Promise<void> {
    const ledger = this.opts.ledger;
    if (!ledger) return;
    await ledger.refresh().catch(() => undefined); // unreadable: judge by what this process knows
    const assessment = ledger.assess({ ca: issuedBy(ca), account: client.accountUrl, names, renewal });
    if (assessment?.status !== 'blocked') return;
    const blocked = assessment.findings.filter((f) => f.status === 'blocked');
    throw new RateLimitReachedError(ca.displayName, blocked.map((f) => f.message), assessment.retryAt);
  }

  /** Ledger bookkeeping never fails an issuance (the CA's own counters are the truth). */
  private async ledgerRecord(fn: (ledger: RateLimitLedger) => Promise<void>): Promise<void> {
    if (this.opts.ledger) await fn(this.opts.ledger).catch(() => undefined);
  }

  /**
   * The CA forgot the stored account (a reset staging CA, a deactivated account): find the
   * account of this key again, or register it once more. The terms were accepted when the
   * account was first created.
   */
  private registerAgain(client: CaClient, ca: ResolvedCa): Promise<unknown> {
    this.reRegistering ??= ensureAccount(client, accountDir(this.opts.dataDir, ca.id), ca, {
      email: this.opts.email,
      forgetStored: true,
    }).finally(() => (this.reRegistering = undefined));
    return this.reRegistering;
  }

  /** Answers one authorization with the first challenge that can work, and waits for the verdict. */
  private async authorize(client: CaClient, ca: ResolvedCa, authz: Authorization, req: IssueRequest, failed: ReadonlySet<ChallengeType>): Promise<void> {
    if (authz.status === 'valid') return;
    const name = (authz.wildcard ? '*.' : '') + authz.identifier.value;
    const allowed = this.allowedChallenges(name, req.challenge, failed);
    const type = allowed.find((t) => authz.challenges.some((c) => c.type === t));
    const challenge = authz.challenges.find((c) => c.type === type) as AcmeChallenge | undefined;
    if (!type || !challenge) {
      throw new HomeportError('acme.no-usable-challenge', `${capitalized(ca.displayName)} offers ${authz.challenges.map((c) => c.type).join(', ') || 'no challenge'} for ${name}, and Homeport can answer only ${allowed.join(', ') || 'none'} here.`, {
        fix: 'Choose another challenge (--challenge) or configure a DNS provider for dns-01.',
      });
    }
    const solver = this.solvers[type]!;
    const answer = await client.answer(challenge);
    const host = authz.identifier.value;
    req.onProgress?.(`Proving control of ${name} with ${type}`);
    try {
      // A present() that fails after changing something (a TXT record written, then the
      // propagation wait timed out or was aborted) is cleaned up too; its error is the one shown.
      await solver.present(host, challenge.token, answer, req.signal);
      await client.validate(authz, challenge, { challengeType: type, caaIdentities: ca.caaIdentities, signal: req.signal });
    } catch (e) {
      const account = client.accountUrl;
      if (e instanceof AcmeProblemError && e.challenge && account) {
        await this.ledgerRecord((l) => l.recordFailedValidation({ ca: issuedBy(ca), account, identifier: name }));
      }
      throw e;
    } finally {
      await solver.cleanup(host, challenge.token, answer).catch(() => undefined);
    }
  }

  /** The CA's renewal window for a certificate (RFC 9773), if the CA that issued it offers ARI. */
  async renewalWindow(certPem: string, ca: string): Promise<RenewalWindow | undefined> {
    const resolved = this.cas.find((c) => c.id === ca || c.directoryUrl === ca) ?? resolveCa({ ca });
    const session = this.session(resolved);
    let certId: string;
    try {
      certId = ariCertId(certPem);
    } catch {
      return undefined;
    }
    return toRenewalWindow(await fetchRenewalInfo(session.conn, await session.directory, certId));
  }

  /** Closes the kept connections (the CLI calls this so the process can exit at once). */
  close(): void {
    for (const s of this.sessions.values()) s.conn.close();
    this.sessions.clear();
  }
}

/** How a certificate names its CA: the preset id, or the directory URL. */
function issuedBy(ca: ResolvedCa): string {
  return ca.preset ? ca.id : ca.directoryUrl;
}

/** A renewal of exactly the same names (Let's Encrypt exempts it from the per-domain limit). */
function sameNames(certPem: string, names: string[]): boolean {
  try {
    const san = (new X509Certificate(certPem).subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, '').toLowerCase());
    const a = [...new Set(san)].sort();
    const b = [...new Set(names.map((n) => n.toLowerCase()))].sort();
    return a.length === b.length && a.every((n, i) => n === b[i]);
  } catch {
    return false;
  }
}
