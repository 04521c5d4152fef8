import type { ApiEvent, ApiMethod, HomeportTransport, Result } from '../main/api/contract';

/**
 * The headless host's transport: same-origin JSON POSTs (the token rides in an HttpOnly
 * cookie the printed link set) and one EventSource for events. Addresses are relative: the
 * page and its cookie live under the host's random per-run path.
 */
export function httpTransport(): HomeportTransport {
  const call = (method: ApiMethod) => async (req?: unknown): Promise<Result<never>> => {
    let res: Response;
    try {
      res = await fetch(`api/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: req === undefined ? '' : JSON.stringify(req),
        credentials: 'same-origin',
      });
    } catch {
      return { ok: false, error: { code: 'ui.offline', message: 'Homeport is not answering.', fix: 'Check that Homeport is still running, then reload this page.' } };
    }
    if (res.status === 401) {
      return { ok: false, error: { code: 'ui.unauthorized', message: 'This page has no access token.', fix: 'Open the link Homeport printed when it started.' } };
    }
    const type = res.headers.get('content-type') ?? '';
    if (!type.startsWith('application/json')) {
      return { ok: false, error: { code: 'ui.http', message: (await res.text()).trim() || `HTTP ${res.status}` } };
    }
    return (await res.json()) as Result<never>;
  };

  const listeners = new Set<(e: ApiEvent) => void>();
  let source: EventSource | undefined;
  const ensureSource = () => {
    if (source) return;
    source = new EventSource('api/events');
    // Each message is one ApiEvent as JSON; EventSource reconnects by itself if the host restarts.
    source.onmessage = (msg: MessageEvent<string>) => {
      const event = JSON.parse(msg.data) as ApiEvent;
      for (const l of listeners) l(event);
    };
  };

  return {
    overview: call('overview'),
    getCertificate: call('getCertificate'),
    preflight: call('preflight'),
    issue: call('issue'),
    renew: call('renew'),
    removeCertificate: call('removeCertificate'),
    exportCertificate: call('exportCertificate'),
    addRoute: call('addRoute'),
    removeRoute: call('removeRoute'),
    getSettings: call('getSettings'),
    updateSettings: call('updateSettings'),
    onEvent(listener) {
      ensureSource();
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
