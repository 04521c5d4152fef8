import { app } from 'electron';

/**
 * Start at login through the OS's own mechanism (login items on macOS, the Run key on
 * Windows), with --hidden so it starts in the tray. Linux desktops have no common API for
 * this; there the preference is kept but false is returned, so the caller can say so.
 */
export function setLaunchAtLogin(on: boolean): boolean {
  if (process.platform !== 'darwin' && process.platform !== 'win32') return false;
  app.setLoginItemSettings({ openAtLogin: on, args: ['--hidden'] });
  return app.getLoginItemSettings().openAtLogin === on;
}
