import type { ApiEvent, Overview } from '../api/contract';
import type { Prefs } from '../api/prefs';

/**
 * What the tray and the notifications say, as pure functions (no electron import), so the
 * wording is tested under plain Node.
 */
export type TrayTone = 'good' | 'wait' | 'bad' | 'idle';

/**
 * good = every certificate active and accepted by every browser; wait = one is being issued,
 * rests, or is served before every browser accepts it; bad = one failed or is blocked.
 */
export function trayTone(overview: Pick<Overview, 'certificates'>, now = Date.now()): { tone: TrayTone; text: string } {
  const certs = overview.certificates;
  const bad = certs.filter((c) => c.state === 'failed' || c.state === 'blocked');
  if (bad.length > 0) return { tone: 'bad', text: `${bad.map((c) => c.name).join(', ')} need${bad.length === 1 ? 's' : ''} attention` };
  const notYetReady = (at: string | null | undefined) => typeof at === 'string' && Date.parse(at) > now;
  const busy = certs.filter((c) => ['resting', 'issuing', 'checking'].includes(c.state) || notYetReady(c.current?.readyAt));
  if (busy.length > 0) return { tone: 'wait', text: `${busy.length} certificate${busy.length === 1 ? '' : 's'} in progress` };
  if (certs.length === 0) return { tone: 'idle', text: 'No certificates yet' };
  return { tone: 'good', text: `${certs.length} certificate${certs.length === 1 ? '' : 's'}, all good` };
}

/** The desktop notice for an event, or null when the event is not one the user hears about. */
export function noticeFor(event: ApiEvent, notify: Prefs['notify']): { title: string; body: string; name: string } | null {
  switch (event.type) {
    case 'cert:ct-ready':
      return notify.ctReady
        ? { title: `${event.payload.name} is ready`, body: 'Every browser now accepts the new certificate.', name: event.payload.name }
        : null;
    case 'cert:failed':
      return notify.failed
        ? { title: `${event.payload.name}: no new certificate`, body: [event.payload.message, event.payload.fix].filter(Boolean).join(' '), name: event.payload.name }
        : null;
    case 'dns:drift':
      return notify.drift
        ? { title: `${event.payload.name}: DNS changed`, body: [event.payload.summary, event.payload.fix].filter(Boolean).join(' '), name: event.payload.name }
        : null;
    default:
      return null;
  }
}
