import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { writeFileAtomic } from './atomic-file';
import { systemClock, type Clock, type Timer } from './clock';
import { EngineEmitter } from './events';
import { HomeportError, isHomeportError } from './errors';
import { configError, loadConfig, updateConfig } from './config/file';
import type { CaEntry, CertificateConfig, Config, ServingChoice } from './config/schema';
import { CertificateConfigSchema } from './config/schema';
import { CertStore, type StoredCert, type StoredMeta } from './certs/store';
import { Lifecycle, type CertificateStatus, type IssueReason, type ReadinessRecord } from './certs/lifecycle';
import { ListenerLease } from './certs/listener-lease';
import type { ChallengeType, Issuer, IssueRequest, KeyType, ReadinessGate, RenewalWindow } from './certs/types';
import type { ExportFormat } from './certs/export';
import type { ChallengeStore } from './acme/challenges';
import type { AcmeIssuer } from './acme/issuer';
import type { LogListSource } from './ct/log-list-refresh';
import type { TreeHeadMemory } from './ct/inclusion';
import type { LogList } from './ct/log-list';
import type { ApplicabilityOverride } from './ct/applicability';
import type { ClockCheck, ClockVerdict } from './ct/clock-skew';
import type { CtStatus } from './ct/status';
import type { IssuancePreflight } from './preflight/issuance';
import type { PreflightReport } from './preflight/types';

/**
 * The engine: the one object every host (CLI, headless, Electron shell, `homeport serve`)
 * talks to. It composes the config, the certificate store and lifecycle, the ACME issuer
 * and the renewal scheduler, and reports through one typed event emitter. The ACME stack is
 * loaded only when something is issued, so reading status stays fast.
 */
export interface EngineOptions {
  dataDir: string;
  clock?: Clock;
  /** Settings for this process that win over config.json (CLI flags); see persistOverrides(). */
  overrides?: ConfigOverrides;
  /** Decides when a new certificate may be served; default: the CT readiness gate (ct/gate.ts) with config.ct's margins. */
  gate?: ReadinessGate;
  /** Another issuer than ACME (tests with a local CA). */
  issuer?: Issuer;
  /**
   * The proxy's challenge answers: when given, its listeners answer http-01 and tls-alpn-01
   * and the engine starts no listeners of its own.
   */
  challenges?: ChallengeStore;
  /**
   * Pre-flight checks before asking the CA; a HomeportError thrown blocks the certificate.
   * Default: preflight/issuance.ts (and its drift watch) with the ACME issuer, none with
   * another issuer; `true` asks for the default with another issuer too, `false` for none.
   */
  preflight?: boolean | ((cert: CertificateConfig, opts: { renewal: boolean; signal?: AbortSignal }) => Promise<void>);
  /** Jitter source (tests pass a fixed one). */
  random?: () => number;
  /**
   * The CT log list to start from instead of the shipped snapshot (signature already checked):
   * a private CT setup, or tests with their own logs. A newer saved or downloaded list still wins.
   */
  logList?: LogList;
  /** Judge every certificate as publicly trusted or private, whatever its root (tests with their own CA). */
  ctApplicability?: ApplicabilityOverride;
}

export interface ConfigOverrides {
  email?: string;
  acceptTos?: boolean;
  /** CA presets or directory URLs, in order. */
  cas?: string[];
  /** Trusted for the directories of the CAs in effect. */
  caRoot?: string;
  eab?: CaEntry['eab'];
  httpPort?: number;
  httpsPort?: number;
  resolver?: string;
  /** This host's public addresses (pre-flight asks no probe service then). */
  publicIps?: string[];
}

export interface CertificateView extends CertificateStatus {
  /** The DNS names asked for (the config entry). */
  names: string[];
  keyType: KeyType;
  challenge?: ChallengeType;
  /** What happens to a first certificate before it is CT-ready (the config's choice or the default). */
  serving: ServingChoice;
  /** When the active certificate is due for renewal, and why. */
  renewal?: { at: string; reason: string };
  /** The CT verdict of the resting successor if there is one, else of the active certificate. */
  ct?: CtStatus | { error: string };
  /** This machine's clock against the CA's Date header and SCT timestamps (the gate relies on it). */
  clock?: ClockVerdict;
}

export interface NewCertificate {
  names: string[];
  /** Its id (directory name); default derived from the first name. */
  name?: string;
  keyType?: KeyType;
  challenge?: ChallengeType;
  dnsProvider?: string;
  serving?: ServingChoice;
}

export interface ActiveCertificate {
  id: string;
  certPem: string;
  chainPem: string;
  keyPem: string;
  meta: StoredMeta;
}

export type RenewOutcome =
  | { id: string; action: 'issued'; status: CertificateView }
  | { id: string; action: 'not-due'; status: CertificateView; dueAt: string; reason: string }
  | { id: string; action: 'waiting'; status: CertificateView; retryAt: string }
  | { id: string; action: 'resting'; status: CertificateView }
  | { id: string; action: 'failed'; status: CertificateView; error: HomeportError };

/** Automatic attempts for one certificate are at least this far apart, whatever a planner says. */
const MIN_AUTOMATIC_GAP_MS = 60_000;
/**
 * How often the CA's renewal window is asked again when its answer had no Retry-After: a CA
 * pulls windows earlier (a mass revocation), and only a client that asks again notices.
 */
const ARI_POLL_MS = 6 * 3_600_000;

/** When the next automatic attempt for a certificate is, and why. */
interface Due {
  at: number;
  reason: IssueReason;
  why: string;
  backoff: boolean;
  /** Ask the CA's renewal window again then (RFC 9773 polling); only where the issuer offers ARI. */
  checkAgainAt?: number;
}

/** The renewal planned for one certificate: its timer, and the timer that asks the CA's window again before it. */
interface Plan {
  at: number;
  renewal: Timer;
  recheck?: Timer;
}

/** An AcmeIssuer and the settings it was made from; one made from older settings is closed once nobody uses it. */
interface CachedIssuer {
  settings: string;
  issuer: Promise<AcmeIssuer>;
  users: number;
  retired: boolean;
}

export class Engine {
  readonly events = new EngineEmitter();
  readonly store: CertStore;
  private readonly clock: Clock;
  private readonly lifecycle: Lifecycle;
  private readonly activation = new Set<(cert: ActiveCertificate) => void>();
  private readonly issuers = new Map<string, CachedIssuer>();
  private readonly plans = new Map<string, Plan>();
  /** Bumped by every (re)planning of a certificate: a plan worked out from older state is dropped. */
  private readonly planGenerations = new Map<string, number>();
  /** The last renewal window each CA gave, per certificate: a CA that does not answer a re-check has not taken it back. */
  private readonly windows = new Map<string, { serial: string; window: RenewalWindow }>();
  private readonly lastAutomatic = new Map<string, number>();
  private listeners?: ListenerLease;
  private ownChallenges?: ChallengeStore;
  private started = false;
  private logLists?: Promise<LogListSource>;
  private clockCheck?: ClockCheck;
  /** The default pre-flight (and its drift watch) is in use; loaded on first need, so `status` starts fast. */
  private readonly defaultPreflight: boolean = false;
  private issuancePreflight?: IssuancePreflight;
  /** Ends background work (inclusion monitors) at close(). */
  private readonly background = new AbortController();
  /** The last tree head seen per CT log, for the whole run: a log that later shows a tree that
   * does not extend it has shown someone a split view. */
  private readonly treeHeads: TreeHeadMemory = new Map();
  private readonly resolvedIssuers = new Set<AcmeIssuer>();
  /** Small state files written in the background (clock verdict); close() waits for them. */
  private saving: Promise<unknown> = Promise.resolve();
  /** Certificates served before CT-ready under hold-handshake: new handshakes wait until `until`. */
  private readonly holds = new Map<string, { serial: string; until: number; maxWaitMs: number; done: Promise<void>; release: () => void }>();

  private constructor(
    private readonly opts: EngineOptions,
    private saved: Config,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.store = new CertStore(opts.dataDir);
    let check: LifecycleCheck | undefined;
    if (typeof opts.preflight === 'function') check = opts.preflight;
    else if (opts.preflight ?? !opts.issuer) {
      this.defaultPreflight = true;
      check = (cert, o) => this.preflight().check(cert, o);
    }
    this.lifecycle = new Lifecycle({
      store: this.store,
      clock: this.clock,
      events: this.events,
      gate: opts.gate ?? this.ctGate(),
      issuer: (cert) => this.issuerFor(cert),
      retryAt: (error, failures) => this.retryAt(error, failures),
      check,
      onIssued: (id, next) => this.afterIssuance(id, next),
      onActivated: (id, current, readiness) => {
        const active = { id, certPem: current.certPem, chainPem: current.chainPem, keyPem: current.keyPem, meta: current.meta };
        this.holdHandshakes(id, current.meta.serial, readiness);
        for (const fn of this.activation) fn(active);
        if (this.started) void this.scheduleSoon(id);
      },
      onFailedLater: (id) => {
        if (this.started) void this.scheduleSoon(id);
      },
    });
    this.events.on('cert:ct-ready', (e) => this.releaseHold(e.name, e.serial));
  }

  /** Reads the data directory's config (a broken one is a plain error; nothing is written). */
  static async open(opts: EngineOptions): Promise<Engine> {
    const dataDir = path.resolve(opts.dataDir);
    return new Engine({ ...opts, dataDir }, await loadConfig(dataDir));
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /** The config in effect: config.json with this process's overrides on top. */
  get config(): Config {
    const o = this.opts.overrides ?? {};
    const s = this.saved;
    return {
      ...s,
      email: o.email ?? s.email,
      acceptTos: o.acceptTos || s.acceptTos,
      cas: (o.cas?.length ? o.cas.map((ca) => ({ ca })) : s.cas).map((c) => ({
        ...c,
        ...(o.caRoot ? { caRoot: path.resolve(o.caRoot) } : {}),
        ...(o.eab ? { eab: o.eab } : {}),
      })),
      listeners: { ...s.listeners, httpPort: o.httpPort ?? s.listeners.httpPort, httpsPort: o.httpsPort ?? s.listeners.httpsPort },
      resolver: o.resolver ?? s.resolver,
      publicIps: o.publicIps?.length ? o.publicIps : s.publicIps,
    };
  }

  /** Edits config.json under its lock and uses the result. */
  async updateConfig(change: (config: Config) => Config | void): Promise<Config> {
    this.saved = await updateConfig(this.dataDir, change);
    return this.config;
  }

  /** Saves this process's overrides (CA, e-mail, terms, ports, resolver) so later runs use them too. */
  async persistOverrides(): Promise<void> {
    const o = this.opts.overrides ?? {};
    if (Object.values(o).every((v) => v === undefined)) return;
    const effective = this.config;
    await this.updateConfig((c) => ({
      ...c,
      email: effective.email,
      acceptTos: effective.acceptTos,
      cas: effective.cas,
      listeners: effective.listeners,
      resolver: effective.resolver,
      publicIps: effective.publicIps,
    }));
  }

  /** Adds (or updates) a certificate in config.json; names are checked and IDNs turned into punycode. */
  async addCertificate(input: NewCertificate): Promise<CertificateConfig> {
    const { normalizeNames } = require('./acme/names') as typeof import('./acme/names');
    const names = normalizeNames(input.names);
    const saved = this.saved.certificates;
    // Unnamed, the entry under the first name's id is the one this call replaces anyway: with a
    // name added or dropped, its settings (key type, challenge, provider, serving) still carry over.
    const existing = input.name
      ? saved.find((c) => c.name === input.name)
      : (saved.find((c) => sameNames(c.names, names)) ?? saved.find((c) => c.name === certIdFor(names[0]!)));
    const parsed = CertificateConfigSchema.safeParse({
      ...existing,
      name: input.name ?? existing?.name ?? certIdFor(names[0]!),
      names,
      ...(input.keyType ? { keyType: input.keyType } : {}),
      ...(input.challenge ? { challenge: input.challenge } : {}),
      ...(input.dnsProvider ? { dnsProvider: input.dnsProvider } : {}),
      ...(input.serving ? { serving: input.serving } : {}),
    });
    if (!parsed.success) throw configError(parsed.error, 'the certificate');
    const cert = parsed.data;
    if (cert.dnsProvider && !this.config.dnsProviders[cert.dnsProvider]) {
      throw new HomeportError('config.unknown-dns-provider', `No DNS provider named "${cert.dnsProvider}" is configured.`, {
        fix: `Add it under "dnsProviders" in ${path.join(this.dataDir, 'config.json')}.`,
      });
    }
    await this.updateConfig((c) => ({ ...c, certificates: [...c.certificates.filter((x) => x.name !== cert.name), cert] }));
    return cert;
  }

  /**
   * Takes a certificate out of the config; its files move to <data>/removed/. Waits for this
   * process's work on it; the config is left as it was if another process holds its lock.
   */
  async removeCertificate(id: string): Promise<void> {
    this.certificate(id);
    await this.lifecycle.remove(id, async () => {
      await this.updateConfig((c) => ({ ...c, certificates: c.certificates.filter((x) => x.name !== id) }));
      // After the edit: work that finished while removal waited may have planned a renewal.
      this.dropPlan(id);
    });
    this.windows.delete(id);
    this.lastAutomatic.delete(id);
    this.releaseHold(id);
  }

  certificate(id: string): CertificateConfig {
    const cert = this.config.certificates.find((c) => c.name === id);
    if (!cert) {
      const known = this.config.certificates.map((c) => c.name);
      throw new HomeportError('certs.unknown', `There is no certificate named "${id}".`, {
        fix: known.length ? `Use one of: ${known.join(', ')}.` : 'Issue one first: homeport issue <name>.',
      });
    }
    return cert;
  }

  async list(): Promise<CertificateView[]> {
    return Promise.all(this.config.certificates.map((c) => this.status(c.name)));
  }

  async status(id: string): Promise<CertificateView> {
    const cert = this.certificate(id);
    const status = await this.lifecycle.status(id);
    const view: CertificateView = {
      ...status,
      names: cert.names,
      keyType: cert.keyType,
      challenge: cert.challenge,
      serving: cert.serving ?? 'serve-now',
    };
    const active = status.active && (await this.store.read(id, 'current'));
    if (active) {
      const { planRenewal } = require('./acme/renewal') as typeof import('./acme/renewal');
      const plan = planRenewal({ certPem: active.certPem, clock: this.clock, random: this.opts.random ?? seeded(active.meta.serial) });
      view.renewal = { at: new Date(plan.renewAt).toISOString(), reason: plan.reason };
    }
    const judged = status.resting ? await this.store.read(id, 'next') : active;
    if (judged) view.ct = await this.ctStatus(id, judged, judged.meta.firstIssuance);
    view.clock = await this.clockVerdict();
    return view;
  }

  /**
   * For the proxy's SNI callback, by certificate id: undefined when a handshake for it may go
   * ahead now; otherwise a promise that resolves when it may (at CT-ready, or after the
   * policy's maximum wait, whichever comes first). Only certificates served under the
   * "hold the TLS handshake up to N seconds" policy before their readyAt are held.
   */
  handshakeHold(id: string): Promise<void> | undefined {
    const hold = this.holds.get(id);
    if (!hold) return undefined;
    const left = Math.min(hold.until - this.clock.now(), hold.maxWaitMs);
    if (left <= 0) return undefined;
    return new Promise<void>((resolve) => {
      const timer = this.clock.at(this.clock.now() + left, resolve);
      void hold.done.then(() => {
        timer.cancel();
        resolve();
      });
    });
  }

  /** When handshakes for `id` stop being held (its readyAt), if they are held now. */
  pendingReadyAt(id: string): Date | undefined {
    const hold = this.holds.get(id);
    return hold && hold.until > this.clock.now() ? new Date(hold.until) : undefined;
  }

  /** Issues now, whatever is due: a first certificate, or a renewal that keeps the current one until ready. */
  async issue(id: string, opts: { onProgress?: (step: string) => void; signal?: AbortSignal } = {}): Promise<CertificateView> {
    const cert = this.certificate(id);
    const status = await this.lifecycle.status(id);
    try {
      await this.lifecycle.issue(cert, { reason: status.active ? 'forced' : 'first', ...opts });
    } finally {
      // A running engine retries a failure after its backoff and renews a success when due.
      if (this.started) await this.scheduleSoon(id);
    }
    return this.status(id);
  }

  /**
   * Reads config.json again (another process, e.g. `homeport issue` or `route add`, changed it);
   * a running engine settles and schedules certificates it did not know.
   */
  async reloadConfig(): Promise<Config> {
    const before = new Set(this.saved.certificates.map((c) => c.name));
    this.saved = await loadConfig(this.dataDir);
    if (this.started) {
      for (const cert of this.config.certificates) {
        if (before.has(cert.name)) continue;
        await this.lifecycle.settle(cert);
        await this.scheduleSoon(cert.name);
      }
      for (const id of before) {
        if (!this.config.certificates.some((c) => c.name === id)) this.dropPlan(id);
      }
    }
    return this.config;
  }

  /**
   * Renews what is due (or everything named, with force). A certificate waiting out a
   * backoff is left alone unless forced, so repeated runs never hammer the CA.
   */
  async renew(opts: { id?: string; force?: boolean; onProgress?: (id: string, step: string) => void } = {}): Promise<RenewOutcome[]> {
    const certs = opts.id ? [this.certificate(opts.id)] : this.config.certificates;
    const outcomes: RenewOutcome[] = [];
    for (const cert of certs) {
      const id = cert.name;
      await this.lifecycle.settle(cert);
      const status = await this.status(id);
      const due = await this.due(cert, status);
      if (!opts.force) {
        if (status.resting && !status.pending) {
          outcomes.push({ id, action: 'resting', status });
          continue;
        }
        if (due.at > this.clock.now()) {
          if (due.backoff) outcomes.push({ id, action: 'waiting', status, retryAt: new Date(due.at).toISOString() });
          else outcomes.push({ id, action: 'not-due', status, dueAt: new Date(due.at).toISOString(), reason: due.why });
          continue;
        }
      }
      try {
        await this.lifecycle.issue(cert, {
          reason: opts.force ? 'forced' : due.reason,
          onProgress: (step) => opts.onProgress?.(id, step),
        });
        outcomes.push({ id, action: 'issued', status: await this.status(id) });
      } catch (e) {
        outcomes.push({ id, action: 'failed', status: await this.status(id), error: toHomeportError(e) });
      }
      if (this.started) await this.scheduleSoon(id);
    }
    return outcomes;
  }

  /** The certificate being served for `id` (PEMs and facts), if any. */
  async activeCertificate(id: string): Promise<ActiveCertificate | undefined> {
    const current = await this.store.read(id, 'current');
    return current && { id, certPem: current.certPem, chainPem: current.chainPem, keyPem: current.keyPem, meta: current.meta };
  }

  /** When the running engine (after start()) will next issue or renew `id` by itself, if planned. */
  nextAttempt(id: string): Date | undefined {
    const planned = this.plans.get(id);
    return planned && new Date(planned.at);
  }

  /** Every promotion, for the proxy's hot swap. Returns the unsubscribe function. */
  onActivated(fn: (cert: ActiveCertificate) => void): () => void {
    this.activation.add(fn);
    return () => this.activation.delete(fn);
  }

  /**
   * Writes the active certificate (or, before the first one is active, the resting one) as
   * PEM files, a PFX or a zip.
   */
  async export(id: string, req: { format: ExportFormat; out: string; password?: string }): Promise<{ files: string[]; serial: string; slot: 'current' | 'next' }> {
    this.certificate(id);
    const current = await this.store.read(id, 'current');
    const source = current ?? (await this.store.read(id, 'next'));
    if (!source) {
      throw new HomeportError('export.nothing', `Certificate "${id}" has not been issued yet.`, { fix: `Issue it first: homeport issue ${id}.` });
    }
    const { exportCertificate } = require('./certs/export') as typeof import('./certs/export');
    const files = await exportCertificate({ id, ...source }, req);
    return { files, serial: source.meta.serial, slot: current ? 'current' : 'next' };
  }

  /**
   * For long-running hosts: finishes what a previous process left (interrupted promotions,
   * resting successors, pending renewals) and arms the renewal timers.
   */
  async start(): Promise<void> {
    this.started = true;
    const ct = this.config.ct;
    if (ct.refreshLogList) {
      const lists = await this.logListSource();
      // The first download waits a minute: starting up (settling, issuing) comes first.
      await lists.start(undefined, LOG_LIST_FIRST_REFRESH_DELAY_MS);
    }
    if (this.defaultPreflight) this.preflight().drift.start();
    for (const cert of this.config.certificates) {
      await this.lifecycle.settle(cert);
      await this.restoreHold(cert);
      await this.scheduleSoon(cert.name);
    }
  }

  async close(): Promise<void> {
    this.started = false;
    this.lifecycle.close();
    this.background.abort();
    this.issuancePreflight?.drift.stop();
    if (this.logLists) (await this.logLists.catch(() => undefined))?.stop();
    for (const id of [...this.plans.keys()]) this.dropPlan(id);
    for (const hold of this.holds.values()) hold.release();
    this.holds.clear();
    const issuers = [...this.issuers.values()];
    this.issuers.clear();
    for (const entry of issuers) await this.closeIssuer(entry);
    await this.saving;
  }

  /**
   * The pre-flight report for names, as the lifecycle's check sees it: the same CA, resolver,
   * addresses and ledger, and the proxy's ports counted as Homeport's own when it answers challenges.
   */
  preflightReport(names: string[]): Promise<PreflightReport> {
    return this.preflight().report(names);
  }

  /** This machine's clock compared with the outside references seen so far (also by earlier runs). */
  async clockVerdict(): Promise<ClockVerdict> {
    const live = this.clockCheck?.verdict();
    if (live && live.status !== 'unknown') return live;
    const saved = await readJsonFile<ClockVerdict>(path.join(this.dataDir, 'ct', 'clock.json'));
    return saved ?? live ?? { status: 'unknown', message: 'No outside time reference yet to compare this clock with.' };
  }

  /** The CT log lists in use: the shipped snapshot, or a newer verified copy saved in <data>/ct. */
  private logListSource(): Promise<LogListSource> {
    return (this.logLists ??= (async () => {
      const { LogListSource } = require('./ct/log-list-refresh') as typeof import('./ct/log-list-refresh');
      const url = this.config.ct.logListUrl;
      const source = new LogListSource({
        dir: path.join(this.dataDir, 'ct'),
        events: this.events,
        clock: this.clock,
        ...(url ? { chromeUrl: url } : {}),
        ...(this.opts.logList ? { initial: this.opts.logList } : {}),
      });
      await source.load();
      return source;
    })());
  }

  /** The default gate: CT readiness with config.ct's margins, read at each judgement (config can change). */
  private ctGate(): ReadinessGate {
    return async (cert) => {
      const { ctReadinessGate } = require('./ct/gate') as typeof import('./ct/gate');
      const ct = this.config.ct;
      const lists = await this.logListSource();
      let gate = ctReadinessGate({ clock: this.clock, logLists: () => lists.lists(), margins: this.margins(), applicability: this.opts.ctApplicability });
      if (ct.strictInclusion) {
        const { strictInclusionGate } = require('./ct/inclusion') as typeof import('./ct/inclusion');
        gate = strictInclusionGate(gate, { clock: this.clock, logList: () => lists.lists().chrome, signal: this.background.signal, treeHeads: this.treeHeads });
      }
      return gate(cert);
    };
  }

  private margins(): { firstIssuanceMs: number; renewalMs: number } {
    const ct = this.config.ct;
    return { firstIssuanceMs: ct.firstIssuanceMarginSeconds * 1000, renewalMs: ct.renewalMarginSeconds * 1000 };
  }

  private async ctStatus(id: string, cert: StoredCert, firstIssuance: boolean): Promise<CtStatus | { error: string }> {
    const { ctStatus } = require('./ct/status') as typeof import('./ct/status');
    const lists = await this.logListSource();
    const m = this.margins();
    const inclusion = await this.store.readJson<CtStatus['inclusion']>(id, INCLUSION_FILE);
    return ctStatus(cert, {
      logLists: lists.lists(),
      at: this.clock.now(),
      marginMs: firstIssuance ? m.firstIssuanceMs : m.renewalMs,
      inclusion,
      applicability: this.opts.ctApplicability,
    });
  }

  /**
   * After each issuance, beside serving: compare this clock with the CA's Date header and the
   * SCT timestamps, and follow the SCTs into their logs (results as cert:ct-logged, and in
   * status). The ACME issuer keeps the rate-limit ledger itself.
   */
  private async afterIssuance(id: string, next: StoredCert): Promise<void> {
    const receivedAt = this.clock.now();
    const { extractEmbeddedScts } = require('./ct/sct') as typeof import('./ct/sct');
    const { certificatesFromFile, parseCertificate } = require('./ct/x509') as typeof import('./ct/x509');
    const { sampleFromScts, sampleFromDateHeader } = require('./ct/clock-skew') as typeof import('./ct/clock-skew');
    const check = this.clockChecker();
    for (const issuer of this.resolvedIssuers) {
      const d = issuer.lastServerDate;
      if (d) check.add(sampleFromDateHeader(d.date, d.sentAt, d.localTime));
    }
    try {
      const scts = extractEmbeddedScts(parseCertificate(certificatesFromFile(next.certPem)[0]!));
      if (scts.length) check.add(sampleFromScts(scts.map((s) => s.timestamp), receivedAt));
    } catch {
      // An unreadable SCT list is the gate's verdict to give (readyAt null, with the reason).
    }
    void this.watchInclusion(id, next).catch((e: unknown) => {
      if (this.background.signal.aborted) return;
      this.events.emit('progress', { name: id, step: `CT log monitoring stopped: ${(e as Error).message}` });
    });
  }

  /** Follows the SCTs into their logs beside serving; the result is kept for status. */
  private async watchInclusion(id: string, next: StoredCert): Promise<void> {
    const { watchInclusion } = require('./ct/inclusion') as typeof import('./ct/inclusion');
    const lists = await this.logListSource();
    const report = await watchInclusion(this.events, { name: id, serial: next.meta.serial, certPem: next.certPem, chainPem: next.chainPem }, lists.lists().chrome, {
      clock: this.clock,
      signal: this.background.signal,
      treeHeads: this.treeHeads,
    });
    const result: CtStatus['inclusion'] = {
      serial: next.meta.serial,
      allLogged: report.allLogged,
      summary: report.summary,
      scts: report.results.map(({ logId, logName, status, treeSize, leafIndex, message }) => ({ logId, logName, status, treeSize, leafIndex, message })),
    };
    await this.store.writeJson(id, INCLUSION_FILE, result);
  }

  private preflight(): IssuancePreflight {
    if (!this.issuancePreflight) {
      const { IssuancePreflight } = require('./preflight/issuance') as typeof import('./preflight/issuance');
      this.issuancePreflight = new IssuancePreflight({
        dataDir: this.dataDir,
        config: () => this.config,
        clock: this.clock,
        events: this.events,
        proxyListening: Boolean(this.opts.challenges),
      });
    }
    return this.issuancePreflight;
  }

  private clockChecker(): ClockCheck {
    if (!this.clockCheck) {
      const { ClockCheck } = require('./ct/clock-skew') as typeof import('./ct/clock-skew');
      this.clockCheck = new ClockCheck(this.events);
      // Saved for commands that never talk to a CA themselves (`homeport status`).
      this.events.on('clock:skew', (v) => {
        const file = path.join(this.dataDir, 'ct', 'clock.json');
        this.saving = this.saving.then(() => writeFileAtomic(file, JSON.stringify(v) + '\n', { mode: 0o600 })).catch(() => undefined);
      });
    }
    return this.clockCheck;
  }

  /** hold-handshake: a first certificate served before readyAt makes handshakes wait for it. */
  private holdHandshakes(id: string, serial: string, readiness: ReadinessRecord): void {
    const choice = this.config.certificates.find((c) => c.name === id)?.serving;
    this.releaseHold(id);
    if (typeof choice !== 'object' || readiness.readyAt === null || readiness.readyAt <= this.clock.now()) return;
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    this.holds.set(id, { serial, until: readiness.readyAt, maxWaitMs: choice.holdHandshakeSeconds * 1000, done, release });
  }

  private releaseHold(id: string, serial?: string): void {
    const hold = this.holds.get(id);
    if (!hold || (serial && hold.serial !== serial)) return;
    hold.release();
    this.holds.delete(id);
  }

  /** After a restart: a certificate still held for its ready moment is held again. */
  private async restoreHold(cert: CertificateConfig): Promise<void> {
    const status = await this.lifecycle.status(cert.name);
    const r = status.readiness;
    if (status.active && r && r.serial === status.active.serial && !r.announced) this.holdHandshakes(cert.name, r.serial, r);
  }

  /** When the next automatic attempt for a certificate is, and why. */
  private async due(cert: CertificateConfig, status: CertificateStatus): Promise<Due> {
    const now = this.clock.now();
    const retryAt = status.failure?.retryAt ? Date.parse(status.failure.retryAt) : undefined;
    const backoff = retryAt !== undefined && retryAt > now && (status.state === 'failed' || status.state === 'blocked');
    const later = (at: number) => (backoff ? Math.max(at, retryAt!) : at);
    if (status.pending) return { at: later(now), reason: status.pending.reason, why: 'a renewal was asked for and has not finished', backoff };
    if (!status.active && !status.resting) return { at: later(now), reason: 'first', why: 'no certificate yet', backoff };
    if (!status.active) return { at: Infinity, reason: 'first', why: 'resting until ready', backoff: false };
    const current = await this.store.read(cert.name, 'current');
    if (!current) return { at: later(now), reason: 'first', why: 'no certificate yet', backoff };
    const { planRenewal } = require('./acme/renewal') as typeof import('./acme/renewal');
    const ari = this.ariFor(cert);
    const window = ari ? await this.renewalWindow(cert.name, current, ari) : undefined;
    const plan = planRenewal({ certPem: current.certPem, clock: this.clock, window, random: this.opts.random ?? seeded(current.meta.serial) });
    return {
      at: later(plan.renewAt),
      reason: 'due',
      why: plan.reason,
      backoff: backoff && retryAt! > plan.renewAt,
      checkAgainAt: ari ? Math.max(plan.checkAgainAt ?? now + ARI_POLL_MS, now + MIN_AUTOMATIC_GAP_MS) : undefined,
    };
  }

  /** How to ask the CA for a certificate's renewal window (RFC 9773), if its issuer can. */
  private ariFor(cert: CertificateConfig): Issuer['renewalWindow'] {
    const issuer = this.opts.issuer;
    if (issuer) return issuer.renewalWindow?.bind(issuer);
    return (certPem, ca) => this.withAcmeIssuer(cert, undefined, (acme) => acme.renewalWindow(certPem, ca));
  }

  /** The CA's window for the served certificate; without an answer, the last one it gave for it (else the lifetime rule decides). */
  private async renewalWindow(id: string, current: StoredCert, ari: NonNullable<Issuer['renewalWindow']>): Promise<RenewalWindow | undefined> {
    const window = await ari(current.certPem, current.meta.ca).catch(() => undefined);
    if (window) {
      this.windows.set(id, { serial: current.meta.serial, window });
      return window;
    }
    const known = this.windows.get(id);
    return known?.serial === current.meta.serial ? { ...known.window, retryAfter: undefined } : undefined;
  }

  /** schedule() whose failure is reported as an event instead of thrown (timer and activation callbacks). */
  private scheduleSoon(id: string): Promise<void> {
    return this.schedule(id).catch((e: unknown) => {
      const err = toHomeportError(e);
      this.events.emit('cert:failed', { name: id, code: err.code, message: `Could not plan the renewal: ${err.message}`, fix: err.fix });
    });
  }

  /**
   * (Re)plans the renewal of one certificate. Called from many places at once (activation,
   * the end of an issue(), start(), a timer); the awaits in between read files and ask the
   * CA, so only the latest call arms: an older one would leave a timer nobody can cancel.
   */
  private async schedule(id: string): Promise<void> {
    const generation = this.dropPlan(id);
    if (!this.started) return;
    const cert = this.config.certificates.find((c) => c.name === id);
    if (!cert) return;
    const status = await this.lifecycle.status(id);
    if (status.resting && !status.pending) return; // the lifecycle's readiness timer takes it from here
    const due = await this.due(cert, status);
    if (this.planGenerations.get(id) !== generation || !this.started) return;
    this.arm(id, due);
  }

  private arm(id: string, due: Due): void {
    this.cancelPlan(id);
    if (!Number.isFinite(due.at)) return;
    const at = Math.max(due.at, (this.lastAutomatic.get(id) ?? -Infinity) + MIN_AUTOMATIC_GAP_MS);
    const plan: Plan = { at, renewal: this.clock.at(at, () => void this.renewIfDue(id)) };
    // A re-check plans again from the CA's answer: earlier if the CA pulled its window in.
    if (due.checkAgainAt !== undefined && due.checkAgainAt < at) plan.recheck = this.clock.at(due.checkAgainAt, () => void this.scheduleSoon(id));
    this.plans.set(id, plan);
  }

  /** A renewal timer fired: issue if the certificate is still due then (another attempt may have just renewed it), then plan again. */
  private async renewIfDue(id: string): Promise<void> {
    this.dropPlan(id);
    await this.lifecycle
      .issueIfDue(id, async () => {
        const cert = this.config.certificates.find((c) => c.name === id);
        if (!cert || !this.started) return undefined;
        const status = await this.lifecycle.status(id);
        if (status.resting && !status.pending) return undefined;
        const due = await this.due(cert, status);
        if (due.at > this.clock.now()) return undefined;
        this.lastAutomatic.set(id, this.clock.now());
        return { cert, reason: due.reason };
      })
      .catch(() => undefined); // recorded by the lifecycle and reported as cert:failed
    await this.scheduleSoon(id);
  }

  /** Cancels the certificate's plan and any planning under way; returns the new generation. */
  private dropPlan(id: string): number {
    this.cancelPlan(id);
    const generation = (this.planGenerations.get(id) ?? 0) + 1;
    this.planGenerations.set(id, generation);
    return generation;
  }

  private cancelPlan(id: string): void {
    const plan = this.plans.get(id);
    plan?.renewal.cancel();
    plan?.recheck?.cancel();
    this.plans.delete(id);
  }

  private retryAt(error: unknown, failures: number): number | undefined {
    // Loaded with the issuer, which is what failed; backoff.ts is small.
    const { nextRetry } = require('./acme/backoff') as typeof import('./acme/backoff');
    return nextRetry({ clock: this.clock, failures, error, random: this.opts.random }).retryAt;
  }

  /** The issuer for a certificate, with challenge listeners around each issuance when no proxy answers. */
  private async issuerFor(cert: CertificateConfig): Promise<Issuer> {
    if (this.opts.issuer) return this.opts.issuer;
    if (this.opts.challenges) return { issue: (req) => this.withAcmeIssuer(cert, undefined, (acme) => acme.issue(req)) };
    return {
      issue: async (req: IssueRequest) => {
        const held = await this.lease().acquire(req.challenge);
        try {
          const none = req.challenge ? undefined : noUsableChallenge(this.config, cert, req.names, held);
          if (none) throw none;
          // Only challenges whose port could be bound are offered to the CA.
          return await this.withAcmeIssuer(cert, held.canServe, (acme) => acme.issue(req));
        } finally {
          await held.release();
        }
      },
    };
  }

  private challengeStore(): ChallengeStore {
    if (!this.ownChallenges) {
      const { ChallengeStore } = require('./acme/challenges') as typeof import('./acme/challenges');
      this.ownChallenges = this.opts.challenges ?? new ChallengeStore();
    }
    return this.ownChallenges;
  }

  private lease(): ListenerLease {
    return (this.listeners ??= new ListenerLease(this.challengeStore(), () => this.config.listeners));
  }

  /** Runs fn with the AcmeIssuer for the settings in effect now, so a change in the app (terms, CA, e-mail) applies to the next order. */
  private async withAcmeIssuer<T>(cert: CertificateConfig, canServe: ChallengeType[] | undefined, fn: (acme: AcmeIssuer) => Promise<T>): Promise<T> {
    const entry = this.acmeIssuer(cert, canServe);
    entry.users++;
    try {
      return await fn(await entry.issuer);
    } finally {
      entry.users--;
      if (entry.retired && entry.users === 0) await this.closeIssuer(entry);
    }
  }

  /**
   * One AcmeIssuer per DNS provider and set of usable challenges, kept while the settings it
   * was made from stay the same (connections, accounts). One made from older settings is
   * closed once its last issuance is done: closing drops the connections under it.
   */
  private acmeIssuer(cert: CertificateConfig, canServe?: ChallengeType[]): CachedIssuer {
    const config = this.config;
    const provider = dnsProviderFor(config, cert);
    const key = `${provider ?? ''}|${canServe?.join(',') ?? '*'}`;
    const settings = issuerSettings(config, provider);
    const cached = this.issuers.get(key);
    if (cached?.settings === settings) return cached;
    if (cached) {
      this.issuers.delete(key);
      cached.retired = true;
      if (cached.users === 0) void this.closeIssuer(cached);
    }
    const entry: CachedIssuer = { settings, issuer: this.createAcmeIssuer(provider, canServe), users: 0, retired: false };
    entry.issuer.catch(() => {
      if (this.issuers.get(key) === entry) this.issuers.delete(key);
    });
    this.issuers.set(key, entry);
    return entry;
  }

  private async createAcmeIssuer(provider: string | undefined, canServe?: ChallengeType[]): Promise<AcmeIssuer> {
    const { AcmeIssuer } = require('./acme/issuer') as typeof import('./acme/issuer');
    const config = this.config;
    let dnsProvider;
    let resolver = config.resolver;
    if (provider) {
      const { createDnsProvider } = require('./acme/dns') as typeof import('./acme/dns');
      const settings = config.dnsProviders[provider];
      dnsProvider = createDnsProvider(settings, { name: provider, clock: this.clock });
      // Without a resolver of the user's, dns-01 waits until the zone's own primary serves the record.
      resolver ??= await rfc2136Server(settings);
    }
    const { RateLimitLedger } = require('./preflight/rate-limits') as typeof import('./preflight/rate-limits');
    const acme = new AcmeIssuer({
      dataDir: this.dataDir,
      // The same ledger file pre-flight reads: orders, certificates, failed validations, rate limits.
      ledger: await RateLimitLedger.open(path.join(this.dataDir, 'rate-limits.json'), this.clock),
      cas: config.cas,
      email: config.email,
      acceptTos: config.acceptTos,
      challenges: this.challengeStore(),
      dnsProvider,
      resolver,
      canServe,
    });
    this.resolvedIssuers.add(acme);
    return acme;
  }

  private async closeIssuer(entry: CachedIssuer): Promise<void> {
    const acme = await entry.issuer.catch(() => undefined);
    if (!acme) return;
    acme.close();
    this.resolvedIssuers.delete(acme);
  }
}

type LifecycleCheck = (cert: CertificateConfig, opts: { renewal: boolean; signal?: AbortSignal }) => Promise<void>;

const INCLUSION_FILE = 'ct-inclusion.json';
const LOG_LIST_FIRST_REFRESH_DELAY_MS = 60_000;

/** An RFC 2136 provider's server as host:port with an IP (what the dns-01 wait asks), else undefined. */
async function rfc2136Server(settings: { provider: string; server?: unknown } | undefined): Promise<string | undefined> {
  if (settings?.provider !== 'rfc2136' || typeof settings.server !== 'string') return undefined;
  const { parseDnsServer, formatDnsServer } = require('./dns/transport') as typeof import('./dns/transport');
  const server = parseDnsServer(settings.server);
  if (!server) return undefined;
  if (isIP(server.host)) return formatDnsServer(server);
  try {
    const { address } = await lookup(server.host);
    return formatDnsServer({ ...server, host: address });
  } catch {
    return undefined; // the provider reports an unreachable server itself
  }
}

async function readJsonFile<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A certificate's directory name from its first DNS name: `*.example.com` → `wildcard_.example.com`. */
export function certIdFor(name: string): string {
  return name.toLowerCase().replace(/^\*\./, 'wildcard_.').replace(/[^a-z0-9._-]/g, '_');
}

function sameNames(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Stable jitter per certificate, so status shows the same renewal time the scheduler uses. */
function seeded(serial: string): () => number {
  const h = createHash('sha256').update(serial).digest();
  return () => h.readUInt32BE(0) / 2 ** 32;
}

/**
 * The DNS provider a certificate's dns-01 uses: pre-flight's rule (preflight/issuance.ts), so
 * a certificate that names none (the app cannot) uses the only one configured, at its first
 * issuance and at every renewal, as pre-flight told the user it would.
 */
function dnsProviderFor(config: Config, cert: CertificateConfig): string | undefined {
  const { chooseDnsProvider } = require('./preflight/dns-provider-choice') as typeof import('./preflight/dns-provider-choice');
  return chooseDnsProvider(config, cert.names, cert.dnsProvider)?.name;
}

/**
 * Unforced, names no challenge can prove here (neither port could be bound, no DNS provider
 * for the certificate) are refused before an order counts against the CA's limits, with the
 * reasons. Wildcards are left to the issuer: they need dns-01 whatever the ports.
 */
function noUsableChallenge(
  config: Config,
  cert: CertificateConfig,
  names: string[],
  held: { canServe: ChallengeType[]; errors: HomeportError[] },
): HomeportError | undefined {
  if (names.length === 0 || names.some((n) => n.startsWith('*.')) || held.canServe.some((t) => t !== 'dns-01')) return undefined;
  if (dnsProviderFor(config, cert)) return undefined;
  const { unchosenDnsProvider } = require('./preflight/dns-provider-choice') as typeof import('./preflight/dns-provider-choice');
  // Several providers and the certificate names none: pre-flight's words (preflight/issuance.ts).
  const several = unchosenDnsProvider(config, cert.name);
  const why = held.errors;
  return new HomeportError(
    'acme.no-usable-challenge',
    [
      `Homeport can answer no challenge for ${names[0]} here.`,
      ...why.map((e) => e.message),
      `dns-01 needs a DNS provider, and ${several ? several.reason : 'none is configured'}.`,
    ].join(' '),
    {
      fix: [...why.map((e) => e.fix), several ? several.fix : `${why.length ? 'Or c' : 'C'}onfigure a DNS provider for dns-01.`].filter(Boolean).join(' '),
      cause: why[0],
      details: { listeners: why.map((e) => e.toJSON()) },
    },
  );
}

/** What an AcmeIssuer is made from (hashed: DNS provider settings hold secrets); a change needs a new one. */
function issuerSettings(config: Config, provider: string | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify([config.cas, config.email ?? null, config.acceptTos, config.resolver ?? null, provider ? (config.dnsProviders[provider] ?? null) : null]))
    .digest('hex');
}

function toHomeportError(e: unknown): HomeportError {
  return isHomeportError(e) ? e : new HomeportError('internal', e instanceof Error ? e.message : String(e), { cause: e });
}
