import { BrowserWindow, ipcMain } from 'electron';
import type { ApiHost } from '../api/dispatch';
import { isAppUrl, isTrustedSender } from './security';

/**
 * The central IPC manager: one `homeport:<method>` channel per contract method, answered
 * only for the app's own top frame, plus engine events pushed to the app's windows.
 */
export function registerIpc(api: ApiHost): () => void {
  for (const method of api.methods) {
    ipcMain.handle(`homeport:${method}`, async (event, req: unknown) => {
      if (!isTrustedSender(event.senderFrame)) {
        return { ok: false, error: { code: 'api.forbidden', message: 'This page may not talk to Homeport.' } };
      }
      return api.call(method, req);
    });
  }
  const unsubscribe = api.onEvent((e) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed() && isAppUrl(win.webContents.getURL())) win.webContents.send('homeport:event', e);
    }
  });
  return () => {
    unsubscribe();
    for (const method of api.methods) ipcMain.removeHandler(`homeport:${method}`);
  };
}
