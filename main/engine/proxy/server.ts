import type * as http from 'node:http';
import type * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { ChallengeStore } from '../acme/challenges';
import { systemClock, type Clock } from '../clock';
import { HomeportError } from '../errors';
import { isPortDenied, portDeniedFix, portDeniedMessage } from '../privileged-port';
import type { ProxySettings, RouteConfig } from '../config/routes';
import type { AccessLogger } from './access-log';
import type { CertificateSource, HandshakeHold } from './cert-source';
import { RequestHandler, type HandlerState } from './handler';
import { createHttpServer, createHttpsServers, listenAll, listenOnInherited, type HttpsServers } from './listeners';
import { RouteTable } from './route-table';
import type { RouteStats } from './stats';
import { AgentCache } from './upstream-pool';

/** Like ProxyOptions, with routes and settings already checked (checkRoutes, checkSettings). */
export interface ProxyServerOptions {
  routes: RouteConfig[];
  settings: ProxySettings;
  /** 0 picks a free port (tests); `ports()` tells which. */
  httpPort: number;
  httpsPort: number;
  certificates: CertificateSource;
  /** The engine's store: solvers put answers there, the listeners serve them. */
  challenges?: ChallengeStore;
  clock?: Clock;
  log?: AccessLogger;
  /** Port named in redirects when it differs from the one bound (behind port forwarding). */
  publicHttpsPort?: number;
  /** Holds handshakes for a certificate served before it is CT-ready (the engine's handshakeHold). */
  handshakeHold?: HandshakeHold;
  /**
   * Accept on another process's listening sockets (a ProxyCluster helper) instead of binding
   * httpPort and httpsPort, which then only name the ports those sockets are bound to.
   */
  inherit?: ListeningSockets;
}

/** The sockets a ProxyServer accepts on: one per listen address, for each listener. */
export interface ListeningSockets {
  http: net.Server[];
  https: net.Server[];
}

/**
 * The reverse proxy: an HTTP listener (challenges, redirects) and an HTTPS listener (SNI,
 * h2 + http/1.1, acme-tls/1) in front of the routes. Routes and certificates change while it
 * runs; `stop` drains open requests before closing.
 */
export class ProxyServer {
  readonly settings: ProxySettings;
  private readonly state: HandlerState;
  private readonly agents: AgentCache;
  private readonly clock: Clock;
  private readonly handler: RequestHandler;
  private http?: http.Server;
  private https?: HttpsServers;
  private relays: net.Server[] = [];
  private listening: ListeningSockets = { http: [], https: [] };
  private bound = { httpPort: 0, httpsPort: 0 };

  constructor(private readonly opts: ProxyServerOptions) {
    this.settings = opts.settings;
    this.agents = new AgentCache(this.settings.upstreamConnectTimeoutMs);
    this.clock = opts.clock ?? systemClock;
    this.state = {
      table: new RouteTable(opts.routes, this.agents, this.clock, this.settings.upstreamFailTimeoutMs),
      settings: this.settings,
      log: opts.log,
    };
    this.handler = new RequestHandler(this.state);
  }

  async start(): Promise<{ httpPort: number; httpsPort: number }> {
    keepYoungGenerationSmall();
    const challenges = this.opts.challenges ?? new ChallengeStore();
    const publicPort = () => this.opts.publicHttpsPort ?? this.bound.httpsPort;
    this.http = createHttpServer(this.settings, challenges, this.handler, publicPort);
    this.https = createHttpsServers(this.settings, this.opts.certificates, challenges, this.handler, publicPort, this.opts.handshakeHold);
    if (this.opts.inherit) {
      this.relays.push(...(await listenOnInherited(this.http, this.opts.inherit.http)), ...(await listenOnInherited(this.https.tls, this.opts.inherit.https)));
      this.bound = { httpPort: this.opts.httpPort, httpsPort: this.opts.httpsPort };
      return this.ports();
    }
    try {
      const a = await listenAll(this.http, this.opts.httpPort, this.settings.listen);
      this.bound.httpPort = a.port;
      this.relays.push(...a.extra);
      const b = await listenAll(this.https.tls, this.opts.httpsPort, this.settings.listen);
      this.bound.httpsPort = b.port;
      this.relays.push(...b.extra);
      this.listening = { http: [this.http, ...a.extra], https: [this.https.tls, ...b.extra] };
    } catch (e) {
      await this.stop(0);
      const err = e as NodeJS.ErrnoException;
      const port = this.bound.httpPort ? this.opts.httpsPort : this.opts.httpPort;
      if (err.code === 'EADDRINUSE') {
        throw new HomeportError('proxy.port-in-use', `Port ${port} is already in use by another program.`, {
          fix: `Stop the other web server on port ${port}, or choose other ports (--http-port, --https-port).`,
          cause: e,
        });
      }
      if (isPortDenied(err)) {
        throw new HomeportError('proxy.port-denied', portDeniedMessage(port, 'serve'), {
          fix: portDeniedFix('choose ports above 1023 (Settings, or --http-port and --https-port) and forward 80 and 443 to them on your router'),
          cause: e,
        });
      }
      throw e;
    }
    return this.ports();
  }

  ports(): { httpPort: number; httpsPort: number } {
    return { ...this.bound };
  }

  /** The bound sockets, for helper processes to accept on too (sent over IPC). */
  listeningSockets(): ListeningSockets {
    return { http: [...this.listening.http], https: [...this.listening.https] };
  }

  /** Replaces the routes for new requests; requests in flight finish on the old ones. */
  setRoutes(routes: RouteConfig[]): void {
    this.state.table = new RouteTable(routes, this.agents, this.clock, this.settings.upstreamFailTimeoutMs, this.state.table);
  }

  routes(): RouteConfig[] {
    return this.state.table.routes.map((r) => r.config);
  }

  /** Per-route counters for the dashboard. */
  stats(): RouteStats[] {
    return this.state.table.routes.map((r) => r.counters.snapshot());
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `drainMs`), then closes what is
   * left. Idle keep-alive connections and WebSocket tunnels close at once (browsers reconnect
   * them); HTTP/2 clients get a GOAWAY.
   */
  async stop(drainMs = 10_000): Promise<void> {
    const servers: net.Server[] = [...this.relays, ...(this.http ? [this.http] : []), ...(this.https ? [this.https.tls] : [])];
    const closed = Promise.all(
      servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))),
    );
    for (const s of this.https?.sessions ?? []) s.close();
    const h1 = [this.http, this.https?.tls].filter((s): s is http.Server => s !== undefined);
    const sweep = setInterval(() => h1.forEach((s) => s.closeIdleConnections()), 50);
    h1.forEach((s) => s.closeIdleConnections());
    this.handler.closeTunnels();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs).unref());
    await Promise.race([closed, deadline]);
    clearInterval(sweep);
    h1.forEach((s) => s.closeAllConnections());
    for (const s of this.https?.sessions ?? []) s.destroy();
    await closed;
    this.agents.destroy();
  }
}

/**
 * Under load V8 grows the young generation to two 16 MB semi-spaces and keeps them. A proxy
 * allocates short-lived objects at a steady rate that a 1 MB space scavenges just as cheaply
 * (test/bench/proxy.ts: same requests/s and handshakes/s), so growth is switched off: about
 * 25 MB less resident after a load run. The flag is read at each growth step, so setting it
 * at run time takes effect; it is process-wide, which suits the processes that serve.
 */
function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
