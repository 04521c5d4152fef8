import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { SecureContext } from 'node:tls';
import { ChallengeStore, type TlsAlpn01Pem } from '../acme/challenges';
import { HomeportError } from '../errors';
import type { ProxySettings, ProxySettingsInput, RouteConfig, RouteInput } from '../config/routes';
import type { CertificateTable, HandshakeHold, ServedCertificate } from './cert-source';
import { checkRoutes, checkSettings } from './check';
import type { AccessLogger } from './access-log';
import { ProxyServer } from './server';
import { mergeStats, type RouteStats } from './stats';

/** Messages between the primary and its proxy workers. */
export type ToWorker =
  /** One of the primary's listening sockets travels with this message (sent before 'init'). */
  | { type: 'listener'; kind: 'http' | 'https' }
  | {
      type: 'init';
      /** Checked by the primary (workers carry no schema). */
      routes: RouteConfig[];
      settings: ProxySettings;
      /** The ports the primary's sockets are bound to. */
      httpPort: number;
      httpsPort: number;
      publicHttpsPort?: number;
      ticketKeys: string;
      certificates: ServedCertificate[];
      defaultCertificate?: string;
      challenges: ChallengeChange[];
      holds: string[];
    }
  | { type: 'routes'; routes: RouteConfig[] }
  | { type: 'cert'; cert: ServedCertificate }
  | { type: 'cert-remove'; id: string }
  | { type: 'ticket-keys'; ticketKeys: string }
  /** Acknowledged with the same `seq` once applied. */
  | { type: 'challenge'; change: ChallengeChange; seq: number }
  | { type: 'holds'; ids: string[] }
  | { type: 'hold-done'; seq: number }
  | { type: 'stats'; id: number }
  | { type: 'ping'; seq: number }
  | { type: 'stop'; drainMs: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; code: string; message: string; fix?: string }
  /** A handshake for a held certificate waits for the primary's answer (its engine holds the clock). */
  | { type: 'hold'; id: string; seq: number }
  | { type: 'ack'; seq: number }
  /** A problem for the operator, e.g. the access log cannot be written. */
  | { type: 'notice'; line: string }
  | { type: 'stats'; id: number; stats: RouteStats[] };

/** A change of the challenge answers, as the primary relays it to its workers. */
export type ChallengeChange =
  | { kind: 'http-01'; token: string; keyAuthorization?: string }
  | { kind: 'tls-alpn-01'; name: string; pem?: TlsAlpn01Pem };

/**
 * A challenge store whose answers reach every worker. Setting one resolves once every worker
 * has it, so the solver tells the CA to look only then. tls-alpn-01 answers travel as PEMs
 * (a SecureContext cannot cross processes); each worker builds its own context.
 */
export class BroadcastChallengeStore extends ChallengeStore {
  private readonly sinks = new Set<(change: ChallengeChange) => Promise<void>>();
  private readonly http01Answers = new Map<string, string>();
  private readonly tlsAlpn01Answers = new Map<string, TlsAlpn01Pem>();

  override setHttp01(token: string, keyAuthorization: string): Promise<void> {
    super.setHttp01(token, keyAuthorization);
    this.http01Answers.set(token, keyAuthorization);
    return this.tell({ kind: 'http-01', token, keyAuthorization });
  }

  override deleteHttp01(token: string): void {
    super.deleteHttp01(token);
    this.http01Answers.delete(token);
    void this.tell({ kind: 'http-01', token });
  }

  override setTlsAlpn01(name: string, context: SecureContext, pem?: TlsAlpn01Pem): Promise<void> {
    if (!pem) {
      throw new HomeportError('proxy.tls-alpn-workers', `The tls-alpn-01 answer for ${name} came without its PEMs, so the proxy workers cannot serve it.`, {
        fix: 'Use the http-01 or dns-01 challenge for this certificate, or run "homeport serve" with one worker.',
      });
    }
    super.setTlsAlpn01(name, context, pem);
    this.tlsAlpn01Answers.set(name.toLowerCase(), pem);
    return this.tell({ kind: 'tls-alpn-01', name: name.toLowerCase(), pem });
  }

  override deleteTlsAlpn01(name: string): void {
    super.deleteTlsAlpn01(name);
    this.tlsAlpn01Answers.delete(name.toLowerCase());
    void this.tell({ kind: 'tls-alpn-01', name: name.toLowerCase() });
  }

  /** The answers pending now, for a worker that starts. */
  pending(): ChallengeChange[] {
    return [
      ...[...this.http01Answers].map(([token, keyAuthorization]): ChallengeChange => ({ kind: 'http-01', token, keyAuthorization })),
      ...[...this.tlsAlpn01Answers].map(([name, pem]): ChallengeChange => ({ kind: 'tls-alpn-01', name, pem })),
    ];
  }

  subscribe(fn: (change: ChallengeChange) => Promise<void>): () => void {
    this.sinks.add(fn);
    return () => this.sinks.delete(fn);
  }

  private async tell(change: ChallengeChange): Promise<void> {
    await Promise.all([...this.sinks].map((s) => s(change)));
  }
}

export interface ClusterOptions {
  /** Processes serving connections, this one included (2 or more). */
  workers: number;
  routes: RouteInput[];
  settings: ProxySettingsInput;
  httpPort: number;
  httpsPort: number;
  publicHttpsPort?: number;
  /** The primary's table: activations are pushed to every worker. */
  certificates: CertificateTable;
  defaultCertificate?: string;
  challenges: BroadcastChallengeStore;
  /** Answers the workers' handshake holds (the engine's handshakeHold). */
  handshakeHold?: HandshakeHold;
  /** This process's access log; workers append to settings.accessLog themselves. */
  log?: AccessLogger;
  /** Where the helpers' notices go. */
  notice?: (line: string) => void;
}

/**
 * The proxy on every core: this process serves as with one worker, and `workers - 1` helper
 * processes accept connections on its very listening sockets (handed over IPC, so the
 * kernel spreads connections and nothing passes through this process). It runs the engine
 * and keeps the helpers in step: routes, certificate activations, challenge answers and
 * ticket keys are pushed to all of them. N workers are N processes, not N + 1: a helper costs
 * tens of MB, and this process would otherwise sit idle.
 */
export class ProxyCluster {
  private readonly local: ProxyServer;
  private readonly workers: ChildProcess[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private routes: RouteConfig[];
  private readonly settings: ProxySettings;
  private held: string[] = [];
  private nextSeq = 1;
  private bound = { httpPort: 0, httpsPort: 0 };
  private stopping = false;
  /** Set once every worker started: only then is a dead worker replaced (no restart loop on a bad start). */
  private running = false;
  private lastRestart = 0;

  constructor(private readonly opts: ClusterOptions) {
    this.routes = checkRoutes(opts.routes);
    this.settings = { ...checkSettings(opts.settings), workers: 1 };
    this.local = new ProxyServer({
      routes: this.routes,
      settings: this.settings,
      httpPort: opts.httpPort,
      httpsPort: opts.httpsPort,
      publicHttpsPort: opts.publicHttpsPort,
      certificates: opts.certificates,
      challenges: opts.challenges,
      handshakeHold: opts.handshakeHold,
      log: opts.log,
    });
  }

  async start(): Promise<{ httpPort: number; httpsPort: number }> {
    this.bound = await this.local.start();
    try {
      for (let i = 0; i < this.opts.workers - 1; i++) await this.init(this.fork(i));
    } catch (e) {
      await this.stop(0);
      throw e;
    }
    this.running = true;
    this.unsubscribe.push(
      this.opts.certificates.onChange(({ id, removed }) => {
        const cert = this.opts.certificates.certificates().find((c) => c.id === id);
        if (removed) this.broadcast({ type: 'cert-remove', id });
        else if (cert) this.broadcast({ type: 'cert', cert });
      }),
      this.opts.challenges.subscribe((change) => this.broadcastAcked((seq) => ({ type: 'challenge', change, seq }))),
      this.opts.certificates.onTicketKeys((keys) => this.broadcast({ type: 'ticket-keys', ticketKeys: keys.toString('base64') })),
    );
    return this.ports();
  }

  /** Starts helper `slot`; one that dies later is replaced (with the state of the moment). */
  private fork(slot: number): ChildProcess {
    const w = fork(path.join(__dirname, 'worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.workers[slot] = w;
    w.on('message', (m: FromWorker) => {
      if (m.type === 'notice') return this.opts.notice?.(m.line);
      if (m.type !== 'hold') return;
      const reply = () => this.sendTo(w, { type: 'hold-done', seq: m.seq });
      const wait = this.opts.handshakeHold?.(m.id);
      if (wait) wait.then(reply, reply);
      else reply();
    });
    w.on('exit', (code, signal) => {
      if (!this.running || this.stopping || this.workers[slot] !== w) return;
      process.stderr.write(`homeport: a proxy worker stopped (${signal ?? `exit ${code}`}); starting a new one\n`);
      // At most one restart a second, so a worker that dies at once cannot spin the CPU.
      const wait = Math.max(0, this.lastRestart + 1000 - Date.now());
      this.lastRestart = Date.now() + wait;
      setTimeout(() => {
        if (!this.stopping) void this.init(this.fork(slot)).catch(() => {});
      }, wait).unref();
    });
    return w;
  }

  ports(): { httpPort: number; httpsPort: number } {
    return { ...this.bound };
  }

  /** Process ids of the helper processes (this one serves too). */
  pids(): number[] {
    return this.workers.map((w) => w.pid!).filter(Boolean);
  }

  /**
   * The certificates whose handshakes are held now. Workers ask the primary only for these,
   * so a handshake for any other name costs no round trip.
   */
  setHeld(ids: string[]): void {
    this.held = ids;
    this.broadcast({ type: 'holds', ids });
  }

  /**
   * Resolves once every worker has applied everything sent before (IPC keeps order), e.g.
   * a certificate activation or a route change.
   */
  settled(): Promise<void> {
    // This process applies everything at once; only the helpers need asking.
    return this.broadcastAcked((seq) => ({ type: 'ping', seq }));
  }

  setRoutes(routes: RouteInput[]): void {
    this.routes = checkRoutes(routes);
    this.local.setRoutes(this.routes);
    this.broadcast({ type: 'routes', routes: this.routes });
  }

  async stats(): Promise<RouteStats[]> {
    const lists = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<RouteStats[]>((resolve) => {
            const id = this.nextSeq++;
            const timer = setTimeout(() => done([]), 2000);
            const onMessage = (m: FromWorker) => m.type === 'stats' && m.id === id && done(m.stats);
            const done = (s: RouteStats[]) => {
              clearTimeout(timer);
              w.off('message', onMessage);
              resolve(s);
            };
            w.on('message', onMessage);
            if (!this.sendTo(w, { type: 'stats', id })) done([]);
          }),
      ),
    );
    return mergeStats([this.local.stats(), ...lists]);
  }

  /** Drains this process and every helper (see ProxyServer.stop). */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const u of this.unsubscribe) u();
    await Promise.all([
      this.local.stop(drainMs),
      ...this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            const kill = setTimeout(() => w.kill('SIGKILL'), drainMs + 2000);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (!this.sendTo(w, { type: 'stop', drainMs })) w.kill('SIGTERM');
          }),
      ),
    ]);
  }

  /**
   * Hands the helper this process's listening sockets, then its state. IPC keeps the order,
   * so the sockets are there when 'init' arrives.
   */
  private init(w: ChildProcess): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') {
          w.off('message', onMessage);
          resolve();
        } else if (m.type === 'failed') {
          w.off('message', onMessage);
          reject(new HomeportError(m.code, m.message, { fix: m.fix }));
        }
      };
      w.on('message', onMessage);
      w.once('exit', (code) => reject(new HomeportError('proxy.worker-failed', `A proxy worker exited while starting (code ${code}).`)));
      const table = this.opts.certificates;
      const sockets = this.local.listeningSockets();
      for (const kind of ['http', 'https'] as const) for (const server of sockets[kind]) w.send({ type: 'listener', kind } satisfies ToWorker, server);
      this.sendTo(w, {
        type: 'init',
        routes: this.routes,
        settings: this.settings,
        httpPort: this.bound.httpPort,
        httpsPort: this.bound.httpsPort,
        publicHttpsPort: this.opts.publicHttpsPort,
        ticketKeys: table.ticketKeys.toString('base64'),
        certificates: table.certificates(),
        defaultCertificate: this.opts.defaultCertificate,
        challenges: this.opts.challenges.pending(),
        holds: this.held,
      });
    });
  }

  /**
   * Sends to every worker and resolves once each has applied it (or died, or after 2 s: a
   * stuck worker must not block issuance; a replacement starts with the current state).
   */
  private async broadcastAcked(build: (seq: number) => ToWorker): Promise<void> {
    const seq = this.nextSeq++;
    const m = build(seq);
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w.connected) return resolve();
            const done = () => {
              clearTimeout(timer);
              w.off('message', onMessage);
              w.off('exit', done);
              resolve();
            };
            const onMessage = (r: FromWorker) => r.type === 'ack' && r.seq === seq && done();
            const timer = setTimeout(done, 2000);
            w.on('message', onMessage);
            w.once('exit', done);
            this.sendTo(w, m);
          }),
      ),
    );
  }

  private broadcast(m: ToWorker): void {
    for (const w of this.workers) this.sendTo(w, m);
  }

  /** False when the helper is gone (its exit handler starts a replacement). */
  private sendTo(w: ChildProcess, m: ToWorker): boolean {
    if (!w.connected) return false;
    w.send(m, undefined, {}, () => {});
    return true;
  }
}
