import type { Clock } from '../engine/clock';
import type { EngineEventName, EngineEvents } from '../engine/events';
import type { ApiEvent } from './contract';
import { createApiHost, type ApiHost } from './dispatch';
import { createHandlers, type HandlerDeps } from './handlers';
import type { PrefsStore } from './prefs';
import { preflightRunner, type PreflightSetup } from './preflight';

/**
 * Engine + contract, composed once for either host: the Electron shell and the headless
 * host both call openRuntime and hand `api` to their transport.
 */
export interface RuntimeOptions {
  dataDir: string;
  host: HandlerDeps['host'];
  prefs: PrefsStore;
  setLaunchAtLogin?: HandlerDeps['setLaunchAtLogin'];
  preflight?: PreflightSetup;
  clock?: Clock;
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
  const { Engine } = await import('../engine/engine.js');
  const engine = await Engine.open({ dataDir: opts.dataDir, ...(opts.clock ? { clock: opts.clock } : {}) });
  await engine.start();
  const impl = createHandlers({
    engine,
    host: opts.host,
    prefs: opts.prefs,
    preflight: preflightRunner(engine, opts.preflight),
    ...(opts.setLaunchAtLogin ? { setLaunchAtLogin: opts.setLaunchAtLogin } : {}),
  });
  const api = createApiHost(impl, (listener) => {
    const offs = UI_EVENTS.map((type) =>
      engine.events.on(type, (payload: EngineEvents[typeof type]) => listener({ type, payload } as ApiEvent)),
    );
    return () => offs.forEach((off) => off());
  });
  return { api, close: () => engine.close() };
}
