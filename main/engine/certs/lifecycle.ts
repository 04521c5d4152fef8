import type { Clock, Timer } from '../clock';
import type { EngineEmitter } from '../events';
import { HomeportError, isHomeportError } from '../errors';
import type { CertificateConfig, ServingChoice } from '../config/schema';
import { servingDecision, servingPolicyFor } from '../ct/readiness';
import type { Issuer, ReadinessGate } from './types';
import type { CertStore, StoredCert, StoredMeta } from './store';

/**
 * One certificate's life: planned → checking → issuing → resting → active, or blocked
 * (pre-flight said no) / failed (kept with its reason). The record lives in state.json next
 * to the files, so a restart picks up where the last process stopped: a resting successor
 * is re-judged and its timer re-armed, an issuance cut short is marked pending and resumes.
 * Nothing here ever touches current/ except promotion, so a failure leaves the served
 * certificate as it was.
 */
export type CertState = 'planned' | 'checking' | 'issuing' | 'resting' | 'active' | 'blocked' | 'failed';

export interface FailureRecord {
  at: string;
  code: string;
  message: string;
  fix?: string;
  /** The ACME problem type, identifier and address the CA used, when the CA reported one. */
  problem?: { type?: string; identifier?: string; addressUsed?: string; detail?: string };
  retryAt?: string;
}

export interface ReadinessRecord {
  serial: string;
  /** ms since epoch; null = never ready (reason says why). */
  readyAt: number | null;
  reason: string;
  /** cert:ct-ready was emitted for this serial. */
  announced?: boolean;
}

export interface LifecycleRecord {
  state: CertState;
  since: string;
  /** An issuance was asked for and has not completed; it survives a crash, so it resumes. */
  pending?: { since: string; reason: IssueReason };
  readiness?: ReadinessRecord;
  failure?: FailureRecord;
  /** Consecutive failures, for backoff. */
  failures?: number;
}

export type IssueReason = 'first' | 'due' | 'forced';

export interface CertificateStatus {
  id: string;
  state: CertState;
  since: string;
  /** The certificate being served (current/), if any. */
  active?: StoredMeta;
  /** The successor resting in next/, if any. */
  resting?: StoredMeta;
  readiness?: ReadinessRecord;
  failure?: FailureRecord;
  pending?: LifecycleRecord['pending'];
  failures: number;
}

export interface LifecycleDeps {
  store: CertStore;
  /** Resolved only when issuing, so commands that never issue never load the ACME stack. */
  issuer: (cert: CertificateConfig) => Promise<Issuer>;
  gate: ReadinessGate;
  clock: Clock;
  events: EngineEmitter;
  /** When to retry after a failure (backoff, Retry-After); undefined = not automatically. */
  retryAt?: (error: unknown, failures: number, now: number) => number | undefined;
  /** Pre-flight checks; a HomeportError thrown here blocks the certificate instead of failing it. */
  check?: (cert: CertificateConfig, opts: { renewal: boolean; signal?: AbortSignal }) => Promise<void>;
  /** A new certificate was stored (before it is judged): bookkeeping, and monitors started in the background. */
  onIssued?: (id: string, next: StoredCert, firstIssuance: boolean) => Promise<void>;
  /** Called after every promotion (the proxy's hot swap), with the promoted certificate's readiness. */
  onActivated?: (id: string, current: StoredCert, readiness: ReadinessRecord, previous?: StoredMeta) => void;
  /** A failure reached outside issue() (a verdict after a restart or a timer): the host plans the retry. */
  onFailedLater?: (id: string) => void;
}

const RECORD = 'state.json';
/** How long a promotion waits for another process that holds the certificate's lock. */
const PROMOTE_LOCK_WAIT_MS = 5_000;
const PROMOTE_RETRY_MS = 30_000;
const NEVER_READY = 'ct.never-ready';

/** A successor judged never CT-ready: the recorded failure, and whether it is served all the same. */
interface NeverReady {
  error: HomeportError;
  failure: FailureRecord;
  served: boolean;
}

export class Lifecycle {
  private readonly timers = new Map<string, Timer>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(private readonly deps: LifecycleDeps) {}

  async status(id: string): Promise<CertificateStatus> {
    const { store } = this.deps;
    const [record, current, next] = await Promise.all([this.record(id), store.read(id, 'current'), store.read(id, 'next')]);
    return {
      id,
      state: record.state,
      since: record.since,
      active: current?.meta,
      resting: next?.meta,
      readiness: record.readiness,
      failure: record.failure,
      pending: record.pending,
      failures: record.failures ?? 0,
    };
  }

  /**
   * Gets a certificate for `cert` and takes it to resting or active. For a renewal the
   * current certificate keeps being served until the successor is ready.
   */
  issue(
    cert: CertificateConfig,
    opts: { reason: IssueReason; onProgress?: (step: string) => void; signal?: AbortSignal },
  ): Promise<CertificateStatus> {
    return this.serialize(cert.name, () => this.doIssue(cert, opts));
  }

  /**
   * issue() for a timer: `due` is asked in turn with this process's other work on the
   * certificate, so a renewal that an attempt just before it made unnecessary is not made
   * again. Undefined from `due` means nothing to do.
   */
  issueIfDue(id: string, due: () => Promise<{ cert: CertificateConfig; reason: IssueReason } | undefined>): Promise<CertificateStatus> {
    return this.serialize(id, async () => {
      const d = await due();
      return d ? this.doIssue(d.cert, { reason: d.reason }) : this.status(id);
    });
  }

  /**
   * Takes a certificate out for good: after this process's work on it, under its lock (so no
   * issuance can still promote), `unlist` runs (the config edit) and the files move to
   * removed/. Its readiness timer is cancelled. Fails as the lock does if another process holds it.
   */
  remove(id: string, unlist: () => Promise<void>): Promise<void> {
    return this.serialize(id, async () => {
      const { store, clock } = this.deps;
      const lock = await store.lock(id);
      try {
        this.timers.get(id)?.cancel();
        this.timers.delete(id);
        await unlist();
        await store.remove(id, clock.now());
      } finally {
        // Moved with the directory: nothing is left to release then.
        await lock.release().catch(() => undefined);
      }
    });
  }

  /**
   * After a start or restart: finish an interrupted promotion, mark an interrupted issuance
   * as pending, re-judge a resting successor and arm the timers. Skips a certificate whose
   * lock a live process holds (that process is working on it).
   */
  settle(cert: CertificateConfig): Promise<CertificateStatus> {
    return this.serialize(cert.name, async () => {
      const { store } = this.deps;
      let lock;
      try {
        lock = await store.lock(cert.name);
      } catch (e) {
        if (isHomeportError(e) && e.code === 'certs.locked') return this.status(cert.name);
        throw e;
      }
      try {
        await store.recover(cert.name);
        const record = await this.record(cert.name);
        const current = await store.read(cert.name, 'current');
        if (record.state === 'issuing' || record.state === 'checking') {
          // The process that was issuing is gone (we hold its lock now): try again.
          await this.transition(cert.name, {
            ...record,
            state: current ? 'active' : 'planned',
            pending: record.pending ?? { since: record.since, reason: current ? 'forced' : 'first' },
          });
        } else if (record.state === 'resting' && !(await store.read(cert.name, 'next'))) {
          // The successor was lost (crash while replacing an older resting one): issue again.
          await this.transition(cert.name, {
            ...record,
            state: current ? 'active' : 'planned',
            readiness: undefined,
            pending: { since: record.since, reason: current ? 'forced' : 'first' },
          });
        } else if (current && record.state === 'planned') {
          await this.transition(cert.name, { ...record, state: 'active' });
        } else if (!current && record.state === 'active') {
          await this.transition(cert.name, { ...record, state: 'planned', pending: { since: record.since, reason: 'first' } });
        }
      } finally {
        await lock.release();
      }
      const [record, next] = await Promise.all([this.record(cert.name), store.read(cert.name, 'next')]);
      if (next && record.readiness?.serial !== next.meta.serial) {
        // No verdict yet (the last process stopped while waiting for it, maybe for hours in
        // strict mode): it is reached in the background, so a restart is not held up.
        this.later(cert.name, () => this.serialize(cert.name, () => this.judge(cert.name, cert.serving)));
      } else {
        await this.judge(cert.name, cert.serving);
      }
      return this.status(cert.name);
    });
  }

  /** Stops all timers (engine shutdown). */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private async doIssue(
    cert: CertificateConfig,
    opts: { reason: IssueReason; onProgress?: (step: string) => void; signal?: AbortSignal },
  ): Promise<CertificateStatus> {
    const { store, clock, events } = this.deps;
    const id = cert.name;
    const progress = (step: string) => {
      opts.onProgress?.(step);
      events.emit('progress', { name: id, step });
    };
    const lock = await store.lock(id);
    let record: LifecycleRecord;
    try {
      await store.recover(id);
      record = await this.record(id);
      const current = await store.read(id, 'current');
      const now = () => new Date(clock.now()).toISOString();
      record = { ...record, pending: record.pending ?? { since: now(), reason: opts.reason } };
      try {
        if (this.deps.check) {
          record = await this.transition(id, { ...record, state: 'checking' });
          progress('Checking DNS and the network before asking the CA');
          try {
            await this.deps.check(cert, { renewal: Boolean(current), signal: opts.signal });
          } catch (e) {
            throw Object.assign(asHomeportError(e), { blocked: true });
          }
        }
        record = await this.transition(id, { ...record, state: 'issuing' });
        const issuer = await this.deps.issuer(cert);
        const issued = await issuer.issue({
          names: cert.names,
          keyType: cert.keyType,
          challenge: cert.challenge,
          replacing: current?.certPem,
          onProgress: progress,
          signal: opts.signal,
        });
        progress('Storing the new certificate');
        const next = await store.writeNext(id, issued, { keyType: cert.keyType, firstIssuance: !current, now: clock.now() });
        events.emit('cert:issued', {
          name: id,
          serial: next.meta.serial,
          issuer: next.meta.issuer,
          ca: next.meta.ca,
          notBefore: next.meta.notBefore,
          notAfter: next.meta.notAfter,
        });
        await this.deps.onIssued?.(id, next, !current);
        // A success ends the backoff, unless the last certificates were never-ready ones too:
        // then the count goes on, so a CA that keeps issuing them is asked less and less often.
        const failures = record.failure?.code === NEVER_READY ? record.failures : 0;
        // Judged after the lock is released (judge()): strict mode waits for log inclusion.
        record = await this.transition(id, { state: 'resting', since: now(), failures });
      } catch (e) {
        await this.recordFailure(id, record, e);
        throw e;
      }
    } finally {
      await lock.release();
    }
    const neverReady = await this.judge(id, cert.serving);
    // Served anyway as chosen: issue() succeeded, and the failure record asks for a better one.
    if (neverReady && !neverReady.served) throw neverReady.error;
    return this.status(id);
  }

  /**
   * Decides a resting successor's fate. The gate's verdict is reached without the lock (strict
   * mode may wait hours for log inclusion while the proxy keeps serving current/); the lock is
   * taken for the decision and the swap only. The serving policy (ct/readiness.ts
   * servingDecision) promotes it, or its timer is armed for readyAt. One that will never be
   * ready fails the attempt with the verdict as the diagnosis (returned, and retried after the
   * backoff), and is set aside unless the user chose to serve it anyway. Also announces the
   * ready moment of a certificate served early. Events go out after the lock is released.
   */
  private async judge(id: string, serving: ServingChoice | undefined): Promise<NeverReady | undefined> {
    const { store, clock, events } = this.deps;
    const again = () => this.serialize(id, () => this.judge(id, serving));
    let verdict: ReadinessRecord | undefined;
    const [unlockedRecord, unlockedNext] = await Promise.all([this.record(id), store.read(id, 'next')]);
    if (unlockedNext && unlockedRecord.readiness?.serial !== unlockedNext.meta.serial) {
      const firstIssuance = !(await store.read(id, 'current'));
      const v = await this.deps.gate({ certPem: unlockedNext.certPem, chainPem: unlockedNext.chainPem, firstIssuance });
      verdict = { serial: unlockedNext.meta.serial, readyAt: v.readyAt, reason: v.reason };
    }
    let lock;
    try {
      lock = await store.lock(id, PROMOTE_LOCK_WAIT_MS);
    } catch (e) {
      // Another process is busy with this certificate; look again a little later.
      if (isHomeportError(e) && e.code === 'certs.locked') {
        this.arm(id, clock.now() + PROMOTE_RETRY_MS, again);
        return undefined;
      }
      throw e;
    }
    let activated: { current: StoredCert; previous?: StoredMeta; readiness: ReadinessRecord } | undefined;
    let ready: ReadinessRecord | undefined;
    let neverReady: NeverReady | undefined;
    let rejudge = false;
    try {
      await store.recover(id);
      let [record, next, current] = await Promise.all([this.record(id), store.read(id, 'next'), store.read(id, 'current')]);
      let readiness = record.readiness;
      if (next && readiness?.serial !== next.meta.serial && verdict?.serial !== next.meta.serial) {
        // Another process stored a newer successor while the verdict was under way: judge that one.
        next = undefined;
        rejudge = true;
      }
      if (next) {
        if (readiness?.serial !== next.meta.serial) {
          readiness = verdict!;
          record = await this.transition(id, { ...record, state: 'resting', readiness });
        }
        const policy = servingPolicyFor(serving, !current);
        const decision = servingDecision(policy, readiness!.readyAt, clock.now(), Boolean(current));
        // delay-handshake: active now; the proxy holds each handshake (Engine.handshakeHold).
        if (decision.action === 'serve' || decision.action === 'delay-handshake') {
          const promoted = await store.promote(id);
          activated = { ...promoted, readiness: readiness! };
          current = promoted.current;
          if (readiness!.readyAt === null) {
            const error = neverReadyError(id, readiness!.reason, 'served');
            record = await this.fail(id, { ...record, pending: { since: record.since, reason: 'forced' } }, error);
            neverReady = { error, failure: record.failure!, served: true };
          } else {
            record = await this.transition(id, { ...record, state: 'active', pending: undefined, failure: undefined, failures: 0 });
          }
        } else if (decision.until === null) {
          await store.setAside(id);
          const error = neverReadyError(id, readiness!.reason, current ? 'previous' : 'nothing');
          record = await this.fail(id, { ...record, pending: { since: record.since, reason: current ? 'due' : 'first' } }, error);
          neverReady = { error, failure: record.failure!, served: false };
        } else {
          this.arm(id, decision.until, again);
        }
      }
      const r = record.readiness;
      if (current && r && r.serial === current.meta.serial && !r.announced && r.readyAt !== null) {
        if (r.readyAt <= clock.now()) {
          await store.writeJson(id, RECORD, { ...record, readiness: { ...r, announced: true } });
          ready = r;
        } else {
          // Served before it was ready (serve-now): announce the ready moment when it comes.
          this.arm(id, r.readyAt, again);
        }
      }
    } finally {
      await lock.release();
    }
    if (rejudge) return this.judge(id, serving);
    if (activated) {
      events.emit('cert:activated', { name: id, serial: activated.current.meta.serial, previousSerial: activated.previous?.serial });
      this.deps.onActivated?.(id, activated.current, activated.readiness, activated.previous);
    }
    if (ready) events.emit('cert:ct-ready', { name: id, serial: ready.serial, readyAt: new Date(ready.readyAt!).toISOString() });
    // Also when it is served as chosen: the user is told, and the retry after the backoff asks for one browsers accept.
    if (neverReady) this.emitFailed(id, neverReady.failure);
    return neverReady;
  }

  private async recordFailure(id: string, record: LifecycleRecord, e: unknown): Promise<void> {
    const failed = await this.fail(id, record, e);
    this.emitFailed(id, failed.failure!);
  }

  /** Records a failed attempt (with its backoff) in state.json; the caller emits cert:failed. */
  private async fail(id: string, record: LifecycleRecord, e: unknown): Promise<LifecycleRecord> {
    const { clock } = this.deps;
    const err = asHomeportError(e);
    const failures = (record.failures ?? 0) + 1;
    const retryAt = this.deps.retryAt?.(e, failures, clock.now());
    const d = err.details ?? {};
    const failure: FailureRecord = {
      at: new Date(clock.now()).toISOString(),
      code: err.code,
      message: err.message,
      fix: err.fix,
      problem:
        d.problemType || d.addressUsed
          ? {
              type: d.problemType as string | undefined,
              identifier: d.identifier as string | undefined,
              addressUsed: d.addressUsed as string | undefined,
              detail: d.detail as string | undefined,
            }
          : undefined,
      retryAt: retryAt === undefined ? undefined : new Date(retryAt).toISOString(),
    };
    const blocked = (e as { blocked?: boolean }).blocked === true;
    // The request stays pending: a later run (or the scheduler at retryAt) tries again.
    return this.transition(id, { ...record, state: blocked ? 'blocked' : 'failed', since: failure.at, failure, failures });
  }

  private emitFailed(id: string, failure: FailureRecord): void {
    this.deps.events.emit('cert:failed', { name: id, code: failure.code, message: failure.message, fix: failure.fix, retryAt: failure.retryAt });
  }

  private async record(id: string): Promise<LifecycleRecord> {
    return (
      (await this.deps.store.readJson<LifecycleRecord>(id, RECORD)) ?? {
        state: 'planned',
        since: new Date(this.deps.clock.now()).toISOString(),
      }
    );
  }

  private async transition(id: string, next: LifecycleRecord): Promise<LifecycleRecord> {
    const previous = await this.deps.store.readJson<LifecycleRecord>(id, RECORD);
    const changed = previous?.state !== next.state;
    const record = changed ? { ...next, since: new Date(this.deps.clock.now()).toISOString() } : next;
    await this.deps.store.writeJson(id, RECORD, record);
    if (changed) this.deps.events.emit('cert:state', { name: id, state: next.state, previous: previous?.state });
    return record;
  }

  private arm(id: string, at: number, fn: () => Promise<NeverReady | undefined>): void {
    if (this.closed) return;
    this.timers.get(id)?.cancel();
    this.timers.set(
      id,
      this.deps.clock.at(at, () => {
        this.timers.delete(id);
        this.later(id, fn);
      }),
    );
  }

  /** Runs a judgement nobody awaits: its errors become cert:failed, a failed attempt goes to the host for a retry. */
  private later(id: string, fn: () => Promise<NeverReady | undefined>): void {
    fn().then(
      (failed) => {
        if (failed) this.deps.onFailedLater?.(id);
      },
      (e: unknown) => {
        const err = asHomeportError(e);
        this.deps.events.emit('cert:failed', { name: id, code: err.code, message: err.message, fix: err.fix });
      },
    );
  }

  /** One operation per certificate at a time inside this process (the lock covers other processes). */
  private serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    this.queues.set(id, run);
    void run.finally(() => {
      if (this.queues.get(id) === run) this.queues.delete(id);
    }).catch(() => undefined);
    return run;
  }
}

/**
 * A successor browsers will never accept (no SCTs on a public certificate, a policy it fails,
 * strict mode without proof), in words: what is served meanwhile, and what to change if the
 * next attempt (after the backoff) gets the same verdict.
 */
function neverReadyError(id: string, verdict: string, served: 'previous' | 'nothing' | 'served'): HomeportError {
  const what = {
    previous: `The renewed certificate for ${id} will never be accepted by browsers, so the current one stays active`,
    nothing: `The certificate issued for ${id} will never be accepted by browsers, so it is not served`,
    served: `The certificate for ${id} is served as you chose, but browsers will never accept it`,
  }[served];
  const strict = verdict.startsWith('Strict mode');
  return new HomeportError(NEVER_READY, `${what}: ${verdict}`, {
    fix: strict
      ? 'Homeport asks the CA again after a pause. To serve once every browser accepts a certificate without waiting for log inclusion, turn off ct.strictInclusion.'
      : "Homeport asks the CA again after a pause. If the next certificate gets the same verdict, use a CA whose certificates carry SCTs from logs browsers trust (every public CA's do; --ca).",
    details: { verdict },
  });
}

function asHomeportError(e: unknown): HomeportError {
  if (isHomeportError(e)) return e;
  return new HomeportError('internal', e instanceof Error ? e.message : String(e), { cause: e });
}
