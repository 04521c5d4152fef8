import type { ProxySettingsInput, RouteInput } from '../config/routes';
import { checkRoutes, checkSettings } from './check';
import { ProxyServer, type ProxyServerOptions } from './server';

export { checkRoutes, checkSettings } from './check';

export interface ProxyOptions extends Omit<ProxyServerOptions, 'routes' | 'settings'> {
  routes: RouteInput[];
  settings?: ProxySettingsInput;
}

/**
 * The reverse proxy (see ProxyServer) taking routes and settings as a user wrote them:
 * checked first, so a bad route or setting is reported and never half-applied. Cluster
 * workers run a ProxyServer with what their primary already checked, without the schema.
 */
export class Proxy extends ProxyServer {
  constructor(opts: ProxyOptions) {
    super({ ...opts, routes: checkRoutes(opts.routes), settings: checkSettings(opts.settings) });
  }

  override setRoutes(routes: RouteInput[]): void {
    super.setRoutes(checkRoutes(routes));
  }
}
