import { HomeportError } from '../errors';
import { ProxySettingsSchema, RoutesSchema, describeIssues, type ProxySettings, type ProxySettingsInput, type RouteConfig, type RouteInput } from '../config/routes';

/** Parses routes with the config's rules; a bad route is reported, never half-applied. */
export function checkRoutes(routes: RouteInput[]): RouteConfig[] {
  const r = RoutesSchema.safeParse(routes);
  if (!r.success) {
    throw new HomeportError('proxy.invalid-route', `A route is not valid: ${describeIssues(r.error, 'routes')}.`, {
      fix: 'Correct the route (homeport route add … replaces it).',
    });
  }
  return r.data;
}

/** Parses the proxy settings, filling in the defaults. */
export function checkSettings(settings: ProxySettingsInput | undefined): ProxySettings {
  const s = ProxySettingsSchema.safeParse(settings ?? {});
  if (!s.success) {
    throw new HomeportError('proxy.invalid-settings', `The proxy settings are not valid: ${describeIssues(s.error, 'proxy')}.`, {
      fix: 'Correct the "proxy" section of config.json.',
    });
  }
  return s.data;
}
