import type { EngineEventName, EngineEvents } from '../engine/events';
import type { Engine, EngineOptions } from '../engine/engine';
import type { Serving } from '../engine/proxy/serve';
import type { ApiEvent, ProxyStatus } from './contract';
import { createApiHost, toApiError, type ApiHost } from './dispatch';
import { createHandlers, type HandlerDeps } from './handlers';
import type { PrefsStore } from './prefs';

/**
 * Engine + contract, composed once for either host: the Electron shell and the headless
 * host both call openRuntime and hand `api` to their transport.
 */
export interface RuntimeOptions {
  dataDir: string;
  host: HandlerDeps['host'];
  prefs: PrefsStore;
  setLaunchAtLogin?: HandlerDeps['setLaunchAtLogin'];
  /** Tests: a clock to drive, another issuer than ACME (a CT-logging test CA), its logs' list and trust. */
  engine?: Pick<EngineOptions, 'clock' | 'issuer' | 'logList' | 'ctApplicability'>;
  /**
   * Run the reverse proxy too (as `homeport serve` does), on the config's ports. When it
   * cannot start (a port in use or privileged) the engine still runs and the overview says
   * why, so the user can fix the ports from Settings.
   */
  serve?: boolean;
  /** Proxy processes, overriding config.json (the Electron app keeps the proxy in-process). */
  proxyWorkers?: number;
}

export interface Runtime {
  api: ApiHost;
  close(): Promise<void>;
}

/** Every engine event the UI hears (test/app/runtime.test.ts checks it against events.ts). */
export const UI_EVENTS = [
  'progress', 'cert:issued', 'cert:ct-ready', 'cert:activated', 'cert:failed', 'cert:state', 'cert:ct-logged', 'ct:log-list', 'clock:skew', 'dns:drift',
] as const satisfies readonly EngineEventName[];

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const engineOptions = opts.engine ?? {};
  let serving: Serving | undefined;
  let proxy: ProxyStatus = { running: false };
  let engine: Engine | undefined;
  if (opts.serve) {
    const { startServing } = await import('../engine/proxy/serve.js');
    try {
      serving = await startServing({ dataDir: opts.dataDir, engine: engineOptions, ...(opts.proxyWorkers ? { workers: opts.proxyWorkers } : {}) });
      engine = serving.engine;
      proxy = { running: true, ...serving.ports };
    } catch (e) {
      proxy = { running: false, problem: toApiError(e) };
    }
  }
  if (!engine) {
    const { Engine } = await import('../engine/engine.js');
    engine = await Engine.open({ dataDir: opts.dataDir, ...engineOptions });
    await engine.start();
  }
  const impl = createHandlers({
    engine,
    host: opts.host,
    prefs: opts.prefs,
    proxy: () => proxy,
    ...(serving ? { routeStats: serving.stats, routesChanged: serving.reload } : {}),
    setLaunchAtLogin: opts.setLaunchAtLogin,
  });
  const events = engine.events;
  const api = createApiHost(impl, (listener) => {
    const offs = UI_EVENTS.map((type) =>
      events.on(type, (payload: EngineEvents[typeof type]) => listener({ type, payload } as ApiEvent)),
    );
    return () => offs.forEach((off) => off());
  });
  const running = engine;
  return { api, close: async () => (serving ? serving.stop(5_000) : running.close()) };
}
