import * as path from 'node:path';

/**
 * Where the UI's files live, shared by both hosts (the Electron protocol handler and the
 * headless HTTP server) so they serve exactly the same paths. The page and its styles are
 * plain files in renderer/static/; the scripts are compiled by renderer/tsconfig.json into
 * dist/www/renderer/.
 */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const staticDir = path.join(repoRoot, 'renderer', 'static');
const scriptDir = path.join(repoRoot, 'dist', 'www', 'renderer');

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface UiFile {
  file: string;
  mime: string;
}

/** Maps a URL path to a file, or null. Never leaves the two UI directories. */
export function resolveUiFile(urlPath: string): UiFile | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  let base: string;
  let rel: string;
  if (decoded === '/' || decoded === '/index.html') {
    base = staticDir;
    rel = 'index.html';
  } else if (decoded.startsWith('/static/')) {
    base = staticDir;
    rel = decoded.slice('/static/'.length);
  } else if (decoded.startsWith('/js/')) {
    base = scriptDir;
    rel = decoded.slice('/js/'.length);
  } else {
    return null;
  }
  const file = path.resolve(base, rel);
  if (!file.startsWith(base + path.sep)) return null;
  const mime = MIME[path.extname(file)];
  if (!mime) return null;
  return { file, mime };
}

/**
 * The page's Content-Security-Policy: only our own scripts and styles, no inline code, no
 * eval, no plugins, no framing, network only back to the host that served the page.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
