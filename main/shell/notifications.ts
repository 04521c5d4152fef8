import { Notification } from 'electron';

/** A desktop notification; clicking it opens the certificate it is about. */
export function showNotice(notice: { title: string; body: string }, onClick: () => void): void {
  if (!Notification.isSupported()) return;
  const n = new Notification({ title: notice.title, body: notice.body });
  n.on('click', onClick);
  n.show();
}
