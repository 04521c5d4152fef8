import { existsSync, watch, type FSWatcher } from 'node:fs';
import * as path from 'node:path';
import { ChallengeStore } from '../acme/challenges';
import { configPath, loadConfig } from '../config/file';
import type { ProxySettings } from '../config/routes';
import { HomeportError } from '../errors';
import { fileAccessLog } from './access-log';
import { CertificateTable, syncCertificatesFromStore } from './cert-source';
import { BroadcastChallengeStore, ProxyCluster } from './cluster';
import { Proxy } from './proxy';
import type { RouteStats } from './stats';
import type { Engine, EngineOptions } from '../engine';

export interface ServeOptions {
  dataDir: string;
  /** Override config.json's listeners. */
  httpPort?: number;
  httpsPort?: number;
  /** Override the proxy setting: processes serving, this one included. */
  workers?: number;
  /** One-line notices (route reloads, certificate swaps, problems). */
  notice?: (line: string) => void;
  /**
   * Run the engine too (issue what is missing, renew what is due), with these options;
   * its challenge answers are served by the proxy's listeners.
   */
  engine?: Omit<EngineOptions, 'challenges' | 'dataDir'>;
}

export interface Serving {
  ports: { httpPort: number; httpsPort: number };
  certificates: CertificateTable;
  challenges: ChallengeStore;
  settings: ProxySettings;
  engine?: Engine;
  stats(): Promise<RouteStats[]>;
  /** Re-reads config.json (routes) and the certificate store now. */
  reload(): Promise<void>;
  stop(drainMs?: number): Promise<void>;
}

/**
 * The proxy as `homeport serve` runs it: routes and settings from <data>/config.json,
 * certificates from <data>/certs/. Edits to config.json (e.g. `homeport route add` from
 * another terminal) apply within moments; certificates another process renews are picked up
 * on the next poll. The engine can also push activations straight into `certificates`.
 */
export async function startServing(opts: ServeOptions): Promise<Serving> {
  const notice = opts.notice ?? (() => {});
  const config = await loadConfig(opts.dataDir);
  const settings: ProxySettings = { ...config.proxy, workers: opts.workers ?? config.proxy.workers };
  const accessLog = settings.accessLog === false ? undefined : (settings.accessLog ?? path.join(opts.dataDir, 'logs', 'access.log'));
  const httpPort = opts.httpPort ?? config.listeners.httpPort;
  const httpsPort = opts.httpsPort ?? config.listeners.httpsPort;

  const certificates = new CertificateTable();
  const certsDir = path.join(opts.dataDir, 'certs');
  const known = new Map<string, string>();
  const syncCerts = async () => {
    const r = await syncCertificatesFromStore(certificates, certsDir, known);
    for (const id of r.activated) notice(`Serving certificate ${id} (serial ${known.get(id)})`);
    for (const id of r.removed) notice(`Certificate ${id} is gone from the store; no longer served`);
    for (const e of r.failed) notice(e.toLine());
  };
  await syncCerts();
  certificates.setDefault(settings.defaultCertificate);

  let engine: Engine | undefined;
  // "Hold the TLS handshake up to N seconds": the engine decides, once it runs.
  const handshakeHold = (id: string) => engine?.handshakeHold(id);
  let proxy: Proxy | ProxyCluster;
  let challenges: ChallengeStore;
  const log = accessLog ? fileAccessLog(accessLog, { notice }) : undefined;
  const closeLog = log?.close;
  if (settings.workers > 1) {
    const store = new BroadcastChallengeStore();
    challenges = store;
    proxy = new ProxyCluster({
      workers: settings.workers,
      routes: config.routes,
      settings: { ...settings, accessLog },
      httpPort,
      httpsPort,
      certificates,
      defaultCertificate: settings.defaultCertificate,
      challenges: store,
      handshakeHold,
      log: log?.log,
      notice,
    });
  } else {
    challenges = new ChallengeStore();
    proxy = new Proxy({ routes: config.routes, settings, httpPort, httpsPort, certificates, challenges, log: log?.log, handshakeHold });
  }
  let ports: { httpPort: number; httpsPort: number };
  try {
    ports = await proxy.start();
  } catch (e) {
    await closeLog?.();
    throw e;
  }

  if (opts.engine) {
    const { Engine } = await import('../engine.js');
    let opened: Engine;
    try {
      opened = await Engine.open({ ...opts.engine, dataDir: opts.dataDir, challenges });
    } catch (e) {
      await proxy.stop(0);
      await closeLog?.();
      throw e;
    }
    engine = opened;
    // Workers ask the primary only about certificates held now (a first certificate served
    // before it is CT-ready under the hold-handshake policy): told at activation, at start
    // (holds restored after a restart) and at cert:ct-ready.
    const cluster = proxy instanceof ProxyCluster ? proxy : undefined;
    const updateHolds = () => cluster?.setHeld(opened.config.certificates.map((c) => c.name).filter((id) => opened.pendingReadyAt(id)));
    // The engine's promotions reach the proxy at once; the store sync then knows them.
    engine.onActivated((c) => {
      updateHolds();
      certificates.activate({ id: c.id, certPem: c.certPem, chainPem: c.chainPem, keyPem: c.keyPem });
      known.set(c.id, c.meta.serial);
    });
    engine.events.on('cert:ct-ready', () => updateHolds());
    engine.events.on('progress', (e) => notice(`${e.name}: ${e.step}`));
    engine.events.on('cert:issued', (e) => notice(`${e.name}: issued by ${e.issuer} (serial ${e.serial}), valid until ${e.notAfter}`));
    engine.events.on('cert:activated', (e) => notice(`${e.name}: now serving serial ${e.serial}`));
    engine.events.on('cert:failed', (e) => notice(`${e.name}: ${e.message}${e.fix ? ` Fix: ${e.fix}` : ''}${e.retryAt ? ` (next try ${e.retryAt})` : ''}`));
    try {
      await engine.start();
      updateHolds();
    } catch (e) {
      await engine.close();
      await proxy.stop(0);
      await closeLog?.();
      throw e;
    }
  }

  let routeCount = config.routes.length;
  const reloadRoutes = async () => {
    try {
      const next = await loadConfig(opts.dataDir);
      // A missing file reads as the defaults, without a route: a config.json moved aside for
      // a moment (an editor's save by rename, git stash) must not take every site down.
      if (!existsSync(configPath(opts.dataDir))) {
        notice(`config.json is missing; keeping ${routeCount} route${routeCount === 1 ? '' : 's'}`);
        return;
      }
      proxy.setRoutes(next.routes);
      routeCount = next.routes.length;
      notice(`Routes reloaded: ${next.routes.length} route${next.routes.length === 1 ? '' : 's'}`);
    } catch (e) {
      notice(`config.json changed but was not applied: ${e instanceof HomeportError ? e.toLine() : (e as Error).message}`);
    }
  };
  // config.json is replaced by rename (atomic writes), so watch the directory, not the file.
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(opts.dataDir, (_event, file) => {
      if (file !== 'config.json') return;
      clearTimeout(debounce);
      debounce = setTimeout(() => void reloadRoutes(), 150);
    });
  } catch {
    notice('Cannot watch the data directory: restart "homeport serve" after changing routes');
  }
  const poll = setInterval(() => void syncCerts().catch((e: Error) => notice(`Reading the certificate store failed: ${e.message}`)), settings.certificatePollMs);
  poll.unref();
  const rotate = setInterval(() => certificates.rotateTicketKeys(), settings.ticketKeyRotationMs);
  rotate.unref();

  return {
    ports,
    certificates,
    challenges,
    settings,
    engine,
    stats: async () => proxy.stats(),
    reload: async () => {
      await reloadRoutes();
      await syncCerts();
    },
    stop: async (drainMs = 10_000) => {
      watcher?.close();
      clearTimeout(debounce);
      clearInterval(poll);
      clearInterval(rotate);
      await engine?.close();
      await proxy.stop(drainMs);
      await closeLog?.();
    },
  };
}
