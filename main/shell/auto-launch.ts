import { app } from 'electron';

/**
 * Start at login through the OS's own mechanism (login items on macOS, the Run key on
 * Windows), with --hidden so it starts in the tray. Linux desktops have no common API for
 * this, so there it is undefined: the settings then do not offer the choice at all.
 */
export const setLaunchAtLogin =
  process.platform === 'darwin' || process.platform === 'win32'
    ? (on: boolean): boolean => {
        app.setLoginItemSettings({ openAtLogin: on, args: ['--hidden'] });
        return app.getLoginItemSettings().openAtLogin === on;
      }
    : undefined;
