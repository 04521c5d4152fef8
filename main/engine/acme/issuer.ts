import { generateKeyPair, KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { HomeportError } from '../errors';
import type { ChallengeType, IssueRequest, IssuedCertificate, Issuer, KeyType, RenewalWindow } from '../certs/types';
import { accountDir, ensureAccount, loadOrCreateAccountKey } from './accounts';
import { resolveCa, type CaSpec, type ResolvedCa } from './cas';
import { ChallengeStore } from './challenges';
import { AcmeClient, fetchRenewalInfo, type AcmeAuthorization, type AcmeChallenge, type AcmeOrder } from './client';
import type { DnsProvider } from './dns-provider';
import { createCsr, generateKey, keyToPem } from './keys';
import { isWildcard, normalizeNames } from './names';
import { AcmeProblemError, addressFromDetail, isCaSpecificFailure } from './problems';
import { ariCertId, toRenewalWindow } from './renewal';
import { dns01Solver, http01Solver, tlsAlpn01Solver, type Solvers } from './solvers';
import { fetchDirectory, loadCaBundle, Transport, type AcmeDirectory, type ServerDate } from './transport';

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
  transport: Transport;
  directory: Promise<AcmeDirectory>;
  /** Started on first issuance: account key, account. */
  client?: Promise<AcmeClient>;
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
  private alpnKey?: Promise<KeyObject>;
  private reRegistering?: Promise<unknown>;

  constructor(private readonly opts: AcmeIssuerOptions) {
    if (opts.cas.length === 0) {
      throw new HomeportError('config.no-ca', 'No CA is configured.', { fix: 'Choose a CA, e.g. --ca letsencrypt.' });
    }
    this.cas = opts.cas.map(resolveCa);
    this.challenges = opts.challenges ?? new ChallengeStore();
    this.solvers = {
      'http-01': http01Solver(this.challenges),
      'tls-alpn-01': tlsAlpn01Solver(this.challenges, () => (this.alpnKey ??= promisify(generateKeyPair)('ec', { namedCurve: 'prime256v1' }).then((k) => k.privateKey))),
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
      const d = s.transport.lastServerDate;
      if (d && (!latest || d.localTime > latest.localTime)) latest = { ...d, ca: s.ca.id };
    }
    return latest;
  }

  /**
   * A ready client (directory read, account in place) for one of the configured CAs (default
   * the first), for callers that speak ACME themselves, like the pre-flight dry run.
   */
  acmeClient(ca?: string): Promise<AcmeClient> {
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
      const transport = new Transport(ca.displayName, { caPem: ca.caRoot ? loadCaBundle(ca.caRoot) : undefined });
      const session: Session = { ca, openedAt: Date.now(), transport, directory: fetchDirectory(transport, ca.directoryUrl) };
      this.sessions.set(ca.id, session);
      session.directory.catch(() => this.forget(session));
      s = session;
    }
    return s;
  }

  private forget(s: Session): void {
    if (this.sessions.get(s.ca.id) === s) this.sessions.delete(s.ca.id);
    s.transport.close();
  }

  private client(ca: ResolvedCa): Promise<AcmeClient> {
    const s = this.session(ca);
    s.client ??= (async () => {
      const dir = accountDir(this.opts.dataDir, ca.id);
      const key = await loadOrCreateAccountKey(dir);
      const c = new AcmeClient(s.transport, ca.directoryUrl, key, ca.displayName, s.directory);
      await c.directory();
      await ensureAccount(c, dir, ca, { email: this.opts.email, acceptTos: this.opts.acceptTos });
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
      } catch (e) {
        failures.push({ ca, error: e });
        const next = this.cas[i + 1];
        if (!isCaSpecificFailure(e)) break;
        // The CA is down or refusing: the next attempt starts with a fresh connection and directory.
        const s = this.sessions.get(ca.id);
        if (s) this.forget(s);
        if (!next) break;
        req.onProgress?.(`${ca.displayName} failed (${e instanceof Error ? e.message : String(e)}); trying ${next.displayName}`);
      }
    }
    if (failures.length === 1) throw failures[0].error;
    const first = failures[0].error;
    throw new HomeportError(
      'acme.all-cas-failed',
      `No CA issued the certificate: ${failures.map((f) => `${f.ca.displayName}: ${f.error instanceof Error ? f.error.message : String(f.error)}`).join(' ')}`,
      {
        fix: first instanceof HomeportError ? first.fix : 'Try again later.',
        cause: first,
        details: { attempts: failures.map((f) => ({ ca: f.ca.id, ...(f.error instanceof HomeportError ? f.error.toJSON() : { message: String(f.error) }) })) },
      },
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
      throw new HomeportError('acme.ip-not-supported', `${ca.displayName} does not issue certificates for IP addresses.`, {
        fix: "Use a domain name, or a CA that issues for IP addresses (Let's Encrypt).",
      });
    }
    progress(`Connecting to ${ca.displayName}`);
    const client = await this.client(ca);
    const directory = await client.directory();
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
    const identifiers = names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }));
    progress(`Asking ${ca.displayName} for an order (${names.join(', ')})`);
    let order: AcmeOrder;
    try {
      order = await client.newOrder(identifiers, { replaces, signal });
    } catch (e) {
      if (e instanceof AcmeProblemError && e.shortType === 'accountDoesNotExist') {
        await this.registerAgain(client, ca);
        order = await client.newOrder(identifiers, { replaces, signal });
      } else {
        // RFC 9773 §5: a CA may refuse `replaces` (already replaced, unknown); the new order stands without it.
        if (!replaces || !(e instanceof AcmeProblemError) || e.shortType === 'rateLimited') throw e;
        order = await client.newOrder(identifiers, { signal });
      }
    }
    const authzs = await Promise.all(order.authorizations.map((u) => client.get<AcmeAuthorization>(u, signal)));
    await Promise.all(authzs.map((a) => this.authorize(client, caInfo, a, req, failed)));

    progress('Finalizing the order');
    const key = await keyP;
    const csr = createCsr(names, key);
    if (order.status !== 'ready') order = await client.poll<AcmeOrder>(order.url, (o) => o.status !== 'pending', { signal });
    this.throwIfInvalid(order, caInfo);
    order = await client.finalize(order, csr, signal);
    if (order.status !== 'valid') {
      order = await client.poll<AcmeOrder>(order.url, (o) => o.status === 'valid' || o.status === 'invalid', { signal });
    }
    this.throwIfInvalid(order, caInfo);
    if (!order.certificate) throw client.badResponse('a valid order without a certificate URL');
    progress('Downloading the certificate');
    const pem = await client.downloadCertificate(order.certificate, signal);
    const [leaf, ...chain] = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (!leaf) throw client.badResponse('the certificate download holds no PEM certificate');
    return {
      certPem: leaf + '\n',
      chainPem: chain.map((b) => b + '\n').join(''),
      keyPem: keyToPem(key),
      ca: ca.preset ? ca.id : ca.directoryUrl,
    };
  }

  /**
   * The CA forgot the stored account (a reset staging CA, a deactivated account): register
   * the same key again, once. The terms were accepted when the account was first created.
   */
  private registerAgain(client: AcmeClient, ca: ResolvedCa): Promise<unknown> {
    this.reRegistering ??= ensureAccount(client, accountDir(this.opts.dataDir, ca.id), ca, {
      email: this.opts.email,
      acceptTos: true,
      forgetStored: true,
    }).finally(() => (this.reRegistering = undefined));
    return this.reRegistering;
  }

  private throwIfInvalid(order: AcmeOrder, ca: ResolvedCa): void {
    if (order.status === 'invalid') {
      throw new AcmeProblemError(order.error ?? { detail: 'the order became invalid' }, { ca: ca.displayName, caaIdentities: ca.caaIdentities });
    }
  }

  /** Answers one authorization with the first challenge that can work, and waits for the verdict. */
  private async authorize(client: AcmeClient, ca: ResolvedCa, authz: AcmeAuthorization, req: IssueRequest, failed: ReadonlySet<ChallengeType>): Promise<void> {
    if (authz.status === 'valid') return;
    const name = (authz.wildcard ? '*.' : '') + authz.identifier.value;
    const allowed = this.allowedChallenges(name, req.challenge, failed);
    const type = allowed.find((t) => authz.challenges.some((c) => c.type === t));
    const challenge = authz.challenges.find((c) => c.type === type);
    if (!type || !challenge) {
      throw new HomeportError('acme.no-usable-challenge', `${ca.displayName} offers ${authz.challenges.map((c) => c.type).join(', ') || 'no challenge'} for ${name}, and Homeport can answer only ${allowed.join(', ') || 'none'} here.`, {
        fix: 'Choose another challenge (--challenge) or configure a DNS provider for dns-01.',
      });
    }
    const solver = this.solvers[type]!;
    const keyAuthorization = client.keyAuthorization(challenge.token);
    const host = authz.identifier.value;
    req.onProgress?.(`Proving control of ${name} with ${type}`);
    await solver.present(host, challenge.token, keyAuthorization, req.signal);
    try {
      await client.respond(challenge, req.signal);
      const done = await client.poll<AcmeAuthorization>(authz.url, (a) => a.status !== 'pending', { signal: req.signal });
      if (done.status !== 'valid') {
        const failed: AcmeChallenge | undefined = done.challenges.find((c) => c.type === type) ?? challenge;
        const record = failed.validationRecord?.[failed.validationRecord.length - 1];
        const fromDetail = addressFromDetail(failed.error?.detail);
        throw new AcmeProblemError(failed.error ?? { detail: `the authorization became ${done.status}` }, {
          ca: ca.displayName,
          identifier: name,
          challenge: type,
          addressUsed: record?.addressUsed ?? fromDetail.address,
          port: record?.port ? Number(record.port) : fromDetail.port,
          caaIdentities: ca.caaIdentities,
        });
      }
    } finally {
      await solver.cleanup(host, challenge.token, keyAuthorization).catch(() => undefined);
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
    return toRenewalWindow(await fetchRenewalInfo(session.transport, await session.directory, certId));
  }

  /** Closes the kept connections (the CLI calls this so the process can exit at once). */
  close(): void {
    for (const s of this.sessions.values()) s.transport.close();
    this.sessions.clear();
  }
}
