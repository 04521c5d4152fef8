import * as path from 'node:path';
import type { BrowserWindowConstructorOptions, Session, WebContents, WebFrameMain } from 'electron';
import { CONTENT_SECURITY_POLICY } from '../api/ui-files';

/**
 * Every security decision of the Electron shell in one place, as plain data and small
 * functions, so a test can read them without Electron (this file imports electron's types
 * only). After 1Password's electron-secure-defaults: each setting says why.
 */

/** The UI is served from our own privileged scheme, never file:// (every file would share one origin) nor http. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'homeport';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_URL = `${APP_ORIGIN}/`;

export const PRELOAD_PATH = path.join(__dirname, '..', '..', 'preload', 'preload.js');

export const WINDOW_OPTIONS = {
  width: 1100,
  height: 760,
  minWidth: 420,
  minHeight: 480,
  title: 'Homeport',
  // Shown once the first paint is ready, so the user never sees a white flash.
  show: false,
  backgroundColor: '#f6f5f1',
  webPreferences: {
    // The page and the preload get separate JavaScript worlds: page code cannot reach the
    // preload's ipcRenderer or tamper with its prototypes.
    contextIsolation: true,
    // The renderer runs in Chromium's OS sandbox; the preload can only require 'electron'.
    sandbox: true,
    // No Node.js in the page, its sub-frames or its workers: a script injection stays a web page.
    nodeIntegration: false,
    nodeIntegrationInSubFrames: false,
    nodeIntegrationInWorker: false,
    // Same-origin policy stays on; we never need to read other origins from the page.
    webSecurity: true,
    // Our own scheme is secure; nothing may load over plain http into it.
    allowRunningInsecureContent: false,
    // Experimental Chromium features widen the attack surface for no gain here.
    experimentalFeatures: false,
    // No <webview>: it would be a second, less controlled renderer.
    webviewTag: false,
    // No plugins (PDF viewer and the like).
    plugins: false,
    // Dropping a file on the window must not navigate away from the app.
    navigateOnDragDrop: false,
    // A hostile page could loop alert()s; Chromium then offers to silence them.
    safeDialogs: true,
    // The spellchecker downloads dictionaries from Google; the UI has no prose to check.
    spellcheck: false,
    // Web SQL is deprecated and unused.
    enableWebSQL: false,
    // Only this preload, which exposes the named contract methods and nothing else.
    preload: PRELOAD_PATH,
  },
} as const satisfies BrowserWindowConstructorOptions;

/** Headers our protocol handler adds to every UI response. */
export const RESPONSE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
};

/** The one origin the window may show and the only origin whose IPC we answer. */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** IPC is answered only for the app's own top frame, so an injected iframe cannot call the engine. */
export function isTrustedSender(frame: Pick<WebFrameMain, 'url' | 'parent'> | null | undefined): boolean {
  return !!frame && frame.parent === null && isAppUrl(frame.url);
}

/** Links to the outside world (a CA's docs) open in the user's browser, only over https. */
export function isSafeExternalUrl(url: string): boolean {
  try {
    return new URL(url).protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Session-wide rules: no permission is ever granted (camera, notifications from the page,
 * geolocation…: the shell shows notifications itself), and nothing is fetched from outside
 * our scheme, except blob: for downloads the UI makes.
 */
export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => {
    const ok = isAppUrl(details.url) || details.url.startsWith('blob:') || details.url.startsWith('devtools:');
    callback({ cancel: !ok });
  });
}

/**
 * Per-window rules: navigation anywhere but our own pages is refused, new windows are never
 * created (https links go to the system browser), and <webview> cannot be attached.
 */
export function hardenContents(contents: WebContents, openExternal: (url: string) => void): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalUrl(url)) openExternal(url);
    return { action: 'deny' };
  });
}
