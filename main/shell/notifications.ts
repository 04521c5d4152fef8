import { Notification } from 'electron';
import type { ApiEvent } from '../api/contract';
import type { Prefs } from '../api/prefs';

/** The desktop notice for an event, or null when the event is not one the user hears about. */
export function noticeFor(event: ApiEvent, notify: Prefs['notify']): { title: string; body: string; name: string } | null {
  switch (event.type) {
    case 'cert:ct-ready':
      return notify.ctReady
        ? { title: `${event.payload.name} is ready`, body: 'Every browser now accepts the new certificate.', name: event.payload.name }
        : null;
    case 'cert:failed':
      return notify.failed
        ? { title: `${event.payload.name}: certificate not renewed`, body: [event.payload.message, event.payload.fix].filter(Boolean).join(' '), name: event.payload.name }
        : null;
    case 'dns:drift':
      return notify.drift
        ? { title: `${event.payload.name}: DNS changed`, body: [event.payload.summary, event.payload.fix].filter(Boolean).join(' '), name: event.payload.name }
        : null;
    default:
      return null;
  }
}

export function showNotice(notice: { title: string; body: string }, onClick: () => void): void {
  if (!Notification.isSupported()) return;
  const n = new Notification({ title: notice.title, body: notice.body, silent: false });
  n.on('click', onClick);
  n.show();
}
