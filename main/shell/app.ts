import { app, session, shell } from 'electron';
import { defaultDataDir } from '../cli/options';
import type { Overview } from '../api/contract';
import { openRuntime, type Runtime } from '../api/runtime';
import { setLaunchAtLogin } from './auto-launch';
import { registerIpc } from './ipc';
import { showNotice } from './notifications';
import { handleAppProtocol, registerAppScheme } from './protocol';
import { hardenContents, hardenSession } from './security';
import { electronPrefsStore } from './settings-store';
import { noticeFor } from './status';
import { StatusTray } from './tray';
import { setQuitting, showMainWindow } from './window';

/**
 * The Electron app: one instance, the engine in the main process, a window on the app://
 * scheme, a tray icon that shows the certificates' state, and desktop notifications. Closing
 * the window keeps Homeport running in the tray (the proxy keeps serving); Quit stops it.
 */

// Every renderer sandboxed, whatever a window's own settings say.
app.enableSandbox();
registerAppScheme();

if (!app.requestSingleInstanceLock()) {
  // A second launch just brings the first one's window forward (see 'second-instance').
  app.quit();
} else {
  app.on('second-instance', () => showMainWindow());
  // macOS: a click on the dock icon brings the window back.
  app.on('activate', () => showMainWindow());
  // Windows shows notifications only for an app with an identity (the installer's appId).
  if (process.platform === 'win32') app.setAppUserModelId('org.homeport.app');
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, (url) => void shell.openExternal(url)));
  app.on('window-all-closed', () => {
    // Stay in the tray: certificates renew and the proxy serves without a window.
  });
  app.whenReady().then(start, (e: unknown) => fatal(e));
}

let runtime: Runtime | undefined;
let tray: StatusTray | undefined;

async function start(): Promise<void> {
  try {
    const dataDir = process.env.HOMEPORT_DATA_DIR ?? defaultDataDir();
    const prefs = await electronPrefsStore(dataDir);
    // One proxy process: extra workers would be forked copies of the Electron binary running
    // as Node, which the packaged app's runAsNode fuse forbids (build/electron-builder.yml).
    runtime = await openRuntime({ dataDir, host: 'electron', prefs, setLaunchAtLogin, serve: true, proxyWorkers: 1 });
    hardenSession(session.defaultSession);
    handleAppProtocol();
    registerIpc(runtime.api);

    tray = new StatusTray({ open: () => showMainWindow(), quit: () => app.quit() });
    const refreshTray = async () => {
      const result = await runtime!.api.call('overview', undefined);
      if (result.ok) tray?.update(result.value as Overview);
    };
    runtime.api.onEvent(async (event) => {
      if (event.type === 'progress') return;
      void refreshTray();
      const notice = noticeFor(event, (await prefs.get()).notify);
      if (notice) showNotice(notice, () => showMainWindow(`#/cert/${encodeURIComponent(notice.name)}`));
    });
    await refreshTray();
    if (!process.argv.includes('--hidden')) showMainWindow();
  } catch (e) {
    fatal(e);
  }
}

/** runtime.close() lets the proxy drain open connections for up to 5 s; a stuck stop gets a little more, then quits anyway. */
const STOP_LIMIT_MS = 8_000;
let stopping = false;

app.on('before-quit', (event) => {
  // Electron would end the process as soon as this handler returns, cutting the proxy's open
  // connections: hold the quit until the engine and proxy have stopped. app.exit() does not
  // come back here, and a second Quit while stopping waits for the same stop.
  event.preventDefault();
  if (stopping) return;
  stopping = true;
  setQuitting();
  tray?.destroy();
  const limit = new Promise<void>((resolve) => setTimeout(resolve, STOP_LIMIT_MS));
  void Promise.race([runtime?.close().catch(() => undefined), limit]).finally(() => app.exit(0));
});

function fatal(e: unknown): void {
  process.stderr.write(`Homeport could not start: ${e instanceof Error ? e.message : String(e)}\n`);
  app.exit(1);
}
