import cluster, { type Worker } from 'node:cluster';
import * as path from 'node:path';
import type { SecureContext } from 'node:tls';
import { ChallengeStore, type TlsAlpn01Pem } from '../acme/challenges';
import { HomeportError } from '../errors';
import type { ProxySettings, ProxySettingsInput, RouteConfig, RouteInput } from '../config/routes';
import type { CertificateTable, HandshakeHold, ServedCertificate } from './cert-source';
import { checkRoutes, checkSettings } from './check';
import { mergeStats, type RouteStats } from './stats';

/** Messages between the primary and its proxy workers. */
export type ToWorker =
  | {
      type: 'init';
      /** Checked by the primary (workers carry no schema). */
      routes: RouteConfig[];
      settings: ProxySettings;
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
  | { type: 'ready'; httpPort: number; httpsPort: number }
  | { type: 'failed'; code: string; message: string; fix?: string }
  /** A handshake for a held certificate waits for the primary's answer (its engine holds the clock). */
  | { type: 'hold'; id: string; seq: number }
  | { type: 'ack'; seq: number }
  | { type: 'stats'; id: number; stats: RouteStats[] };

/**
 * A worker's young generation is kept small: V8 otherwise grows it to 32 MB under load, which
 * at 1,000 open connections is a fifth of a worker's memory; scavenging a small space costs
 * no more CPU per request here (measured with test/bench/proxy.ts).
 */
const WORKER_V8_FLAGS = ['--max-semi-space-size=2'];

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
}

/**
 * The proxy on every core: node:cluster workers each run a Proxy on the same ports (the
 * kernel spreads connections), and the primary, which runs the engine, keeps them in step:
 * routes, certificate activations and http-01 answers are pushed to all of them.
 */
export class ProxyCluster {
  private readonly workers: Worker[] = [];
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
  }

  async start(): Promise<{ httpPort: number; httpsPort: number }> {
    // Each worker accepts on the shared socket itself: no hop through the primary per connection.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: path.join(__dirname, 'worker.js'), args: [], execArgv: [...process.execArgv, ...WORKER_V8_FLAGS], silent: false });
    // Every worker asks for the same address and port as configured (even port 0): the
    // cluster module then hands them all the one socket the first request bound.
    try {
      for (let i = 0; i < this.opts.workers; i++) this.bound = await this.init(this.fork(i));
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

  /** Starts worker `slot`; one that dies later is replaced (with the state of the moment). */
  private fork(slot: number): Worker {
    const w = cluster.fork({ HOMEPORT_PROXY_WORKER: '1' });
    this.workers[slot] = w;
    w.on('message', (m: FromWorker) => {
      if (m.type !== 'hold') return;
      const reply = () => w.isConnected() && w.send({ type: 'hold-done', seq: m.seq } satisfies ToWorker, undefined, () => {});
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

  /** Process ids of the workers (for memory figures). */
  pids(): number[] {
    return this.workers.map((w) => w.process.pid!).filter(Boolean);
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
    return this.broadcastAcked((seq) => ({ type: 'ping', seq }));
  }

  setRoutes(routes: RouteInput[]): void {
    this.routes = checkRoutes(routes);
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
            w.send({ type: 'stats', id } satisfies ToWorker);
          }),
      ),
    );
    return mergeStats(lists);
  }

  async stop(drainMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const u of this.unsubscribe) u();
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.kill('SIGKILL'), drainMs + 2000);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (w.isConnected()) w.send({ type: 'stop', drainMs } satisfies ToWorker, undefined, () => {});
            else w.kill('SIGTERM');
          }),
      ),
    );
  }

  private init(w: Worker): Promise<{ httpPort: number; httpsPort: number }> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') {
          w.off('message', onMessage);
          resolve(m);
        } else if (m.type === 'failed') {
          w.off('message', onMessage);
          reject(new HomeportError(m.code, m.message, { fix: m.fix }));
        }
      };
      w.on('message', onMessage);
      w.once('exit', (code) => reject(new HomeportError('proxy.worker-failed', `A proxy worker exited while starting (code ${code}).`)));
      const table = this.opts.certificates;
      w.send({
        type: 'init',
        routes: this.routes,
        settings: this.settings,
        httpPort: this.opts.httpPort,
        httpsPort: this.opts.httpsPort,
        publicHttpsPort: this.opts.publicHttpsPort,
        ticketKeys: table.ticketKeys.toString('base64'),
        certificates: table.certificates(),
        defaultCertificate: this.opts.defaultCertificate,
        challenges: this.opts.challenges.pending(),
        holds: this.held,
      } satisfies ToWorker);
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
            if (!w.isConnected()) return resolve();
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
            w.send(m, undefined, () => {});
          }),
      ),
    );
  }

  private broadcast(m: ToWorker): void {
    // A worker that died between the check and the send is replaced by the exit handler.
    for (const w of this.workers) if (w.isConnected()) w.send(m, undefined, () => {});
  }
}
