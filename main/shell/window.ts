import { BrowserWindow } from 'electron';
import { APP_URL, WINDOW_OPTIONS } from './security';

/** One main window; closing it hides it (the engine and proxy keep running in the tray). */
let main: BrowserWindow | undefined;
let quitting = false;

export function setQuitting(): void {
  quitting = true;
}

export function showMainWindow(hash = ''): BrowserWindow {
  if (main && !main.isDestroyed()) {
    if (hash) void main.webContents.executeJavaScript(`location.hash = ${JSON.stringify(hash)}`);
    if (main.isMinimized()) main.restore();
    main.show();
    main.focus();
    return main;
  }
  const win = new BrowserWindow(WINDOW_OPTIONS);
  win.once('ready-to-show', () => win.show());
  win.on('close', (event) => {
    if (!quitting) {
      event.preventDefault();
      win.hide();
    }
  });
  win.removeMenu();
  void win.loadURL(APP_URL + hash);
  main = win;
  return win;
}
