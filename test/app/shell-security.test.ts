import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Session, WebContents } from 'electron';
import { repoRoot } from '../helpers/paths';
import {
  APP_ORIGIN, APP_URL, PRELOAD_PATH, RESPONSE_HEADERS, WINDOW_OPTIONS,
  hardenContents, hardenSession, isAppUrl, isSafeExternalUrl, isTrustedSender,
} from '../../main/shell/security';
import { API_METHODS } from '../../main/api/dispatch';

// The Electron binary cannot be downloaded here, so the security checklist is asserted on the
// plain objects and functions the shell uses; test/e2e/electron.test.ts runs the real app
// where the binary exists.

test('BrowserWindow webPreferences follow the security checklist', () => {
  const wp = WINDOW_OPTIONS.webPreferences;
  assert.equal(wp.contextIsolation, true);
  assert.equal(wp.sandbox, true);
  assert.equal(wp.nodeIntegration, false);
  assert.equal(wp.nodeIntegrationInSubFrames, false);
  assert.equal(wp.nodeIntegrationInWorker, false);
  assert.equal(wp.webSecurity, true);
  assert.equal(wp.allowRunningInsecureContent, false);
  assert.equal(wp.experimentalFeatures, false);
  assert.equal(wp.webviewTag, false);
  assert.equal(wp.navigateOnDragDrop, false);
  assert.ok(!('enableBlinkFeatures' in wp), 'no extra Blink features');
  assert.equal(wp.preload, PRELOAD_PATH);
  assert.ok(existsSync(PRELOAD_PATH), `the preload is built at ${PRELOAD_PATH}`);
});

test('every webPreferences setting carries a comment saying why', () => {
  const src = readFileSync(path.join(repoRoot, 'main', 'shell', 'security.ts'), 'utf8');
  const block = src.slice(src.indexOf('webPreferences: {'), src.indexOf('} as const satisfies'));
  // A comment may cover a group of settings written right below it (the three nodeIntegration*).
  let covered = false;
  for (const line of block.split('\n').slice(1)) {
    if (/^\s*\/\//.test(line)) covered = true;
    const m = /^\s+(\w+): /.exec(line);
    if (m) assert.ok(covered, `${m[1]} has no comment saying why`);
    else if (!/^\s*\/\//.test(line)) covered = false;
  }
});

test('the UI is served with a strict CSP: own scripts only, no inline, no eval, no framing', () => {
  const csp = RESPONSE_HEADERS['Content-Security-Policy']!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const html = readFileSync(path.join(repoRoot, 'renderer', 'static', 'index.html'), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline scripts in index.html');
  assert.doesNotMatch(html, /\son\w+=/, 'no inline event handlers in index.html');
});

test('IPC is answered only for the app origin top frame', () => {
  assert.equal(APP_URL, `${APP_ORIGIN}/`);
  assert.ok(isTrustedSender({ url: 'app://homeport/#/settings', parent: null }));
  assert.ok(!isTrustedSender({ url: 'app://homeport/', parent: {} as never }), 'sub-frames are refused');
  assert.ok(!isTrustedSender({ url: 'https://homeport/', parent: null }));
  assert.ok(!isTrustedSender({ url: 'app://evil/', parent: null }));
  assert.ok(!isTrustedSender({ url: 'file:///app/index.html', parent: null }));
  assert.ok(!isTrustedSender(null));
  assert.ok(isAppUrl('app://homeport/js/main.js'));
  assert.ok(!isAppUrl('not a url'));
});

/** Records what the shell registers on a WebContents; Electron itself cannot run here. */
class ContentsProbe extends EventEmitter {
  openHandler?: (d: { url: string }) => { action: string };
  setWindowOpenHandler(fn: (d: { url: string }) => { action: string }) {
    this.openHandler = fn;
  }
  fire(event: string, ...args: unknown[]): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => (prevented = true) }, ...args);
    return prevented;
  }
}

test('navigation away from the app, new windows and webviews are refused', () => {
  const probe = new ContentsProbe();
  const opened: string[] = [];
  hardenContents(probe as unknown as WebContents, (url) => opened.push(url));
  assert.equal(probe.fire('will-navigate', 'https://evil.example/'), true);
  assert.equal(probe.fire('will-navigate', 'file:///etc/passwd'), true);
  assert.equal(probe.fire('will-navigate', 'app://homeport/#/settings'), false);
  assert.equal(probe.fire('will-redirect', 'http://127.0.0.1:1/'), true);
  assert.equal(probe.fire('will-attach-webview'), true);
  assert.deepEqual(probe.openHandler!({ url: 'https://letsencrypt.org/docs/' }), { action: 'deny' });
  assert.deepEqual(probe.openHandler!({ url: 'javascript:alert(1)' }), { action: 'deny' });
  assert.deepEqual(probe.openHandler!({ url: 'file:///etc/passwd' }), { action: 'deny' });
  assert.deepEqual(opened, ['https://letsencrypt.org/docs/'], 'only https links go to the system browser');
  assert.ok(isSafeExternalUrl('https://x.example/') && !isSafeExternalUrl('http://x.example/'));
});

test('the session denies every permission and blocks requests outside the app', () => {
  const seen: Record<string, unknown> = {};
  const session = {
    setPermissionRequestHandler: (fn: unknown) => (seen.request = fn),
    setPermissionCheckHandler: (fn: unknown) => (seen.check = fn),
    setDevicePermissionHandler: (fn: unknown) => (seen.device = fn),
    webRequest: { onBeforeRequest: (fn: unknown) => (seen.before = fn) },
  };
  hardenSession(session as unknown as Session);
  for (const permission of ['notifications', 'media', 'geolocation', 'clipboard-read', 'openExternal']) {
    let granted: boolean | undefined;
    (seen.request as (w: unknown, p: string, cb: (ok: boolean) => void) => void)(null, permission, (ok) => (granted = ok));
    assert.equal(granted, false, permission);
  }
  assert.equal((seen.check as () => boolean)(), false);
  assert.equal((seen.device as () => boolean)(), false);
  const verdict = (url: string) => {
    let cancel: boolean | undefined;
    (seen.before as (d: { url: string }, cb: (r: { cancel: boolean }) => void) => void)({ url }, (r) => (cancel = r.cancel));
    return cancel;
  };
  assert.equal(verdict('app://homeport/js/main.js'), false);
  assert.equal(verdict('blob:app://homeport/1234'), false);
  assert.equal(verdict('https://tracker.example/pixel.gif'), true);
  assert.equal(verdict('http://127.0.0.1:8080/'), true);
});

test('the preload exposes exactly the contract methods, and no generic invoke or send', () => {
  const src = readFileSync(path.join(repoRoot, 'preload', 'preload.ts'), 'utf8');
  const body = src.slice(src.indexOf('const api: HomeportTransport = {'), src.indexOf('contextBridge.exposeInMainWorld'));
  const keys = [...body.matchAll(/^  (\w+)[:(]/gm)].map((m) => m[1]);
  assert.deepEqual(keys.sort(), [...API_METHODS, 'onEvent'].sort());
  assert.doesNotMatch(src, /exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
  assert.equal((src.match(/exposeInMainWorld/g) ?? []).length, 1);
  // Sandboxed preloads can require only 'electron': no other runtime import.
  const runtimeImports = [...src.matchAll(/^import (?!type )[^;]*from '([^']+)'/gm)].map((m) => m[1]);
  assert.deepEqual(runtimeImports, ['electron']);
});

test('the shell entry enables the sandbox everywhere, hardens every webContents and holds the single-instance lock', () => {
  const src = readFileSync(path.join(repoRoot, 'main', 'shell', 'app.ts'), 'utf8');
  assert.match(src, /app\.enableSandbox\(\)/);
  assert.match(src, /requestSingleInstanceLock\(\)/);
  assert.match(src, /'web-contents-created'[\s\S]{0,200}hardenContents/);
  assert.match(src, /hardenSession\(/);
});

test('Quit holds the process until the engine and proxy have stopped, within a time limit', () => {
  // Electron cannot run here: the before-quit handler is checked as written.
  const src = readFileSync(path.join(repoRoot, 'main', 'shell', 'app.ts'), 'utf8');
  const handler = src.slice(src.indexOf("app.on('before-quit'"));
  assert.match(handler, /^app\.on\('before-quit', \(event\) => \{\n(?:\s*\/\/.*\n)*\s*event\.preventDefault\(\);/, 'the quit is held first');
  assert.match(handler, /Promise\.race\(\[runtime\?\.close\(\)[^\]]*, limit\]\)\.finally\(\(\) => app\.exit\(0\)\)/, 'then exits once stopped or timed out');
  assert.match(src, /const STOP_LIMIT_MS = \d+_?\d*;/);
});
