import { promises as fs } from 'node:fs';
import { protocol } from 'electron';
import { resolveUiFile } from '../api/ui-files';
import { APP_HOST, APP_SCHEME, RESPONSE_HEADERS } from './security';

/**
 * app://homeport/ serves the UI: the same files, paths and CSP as the headless host.
 * Registered as a standard, secure scheme (a real origin for the IPC sender check, fetch and
 * ES modules work) before the app is ready.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

export function handleAppProtocol(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === APP_HOST ? resolveUiFile(url.pathname) : null;
    if (!file) return new Response('Not found', { status: 404, headers: RESPONSE_HEADERS });
    try {
      const body = await fs.readFile(file.file);
      return new Response(body, { headers: { ...RESPONSE_HEADERS, 'Content-Type': file.mime } });
    } catch {
      return new Response('Not found', { status: 404, headers: RESPONSE_HEADERS });
    }
  });
}
