import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The Electron executable, if installed. Not `require('electron')`: since Electron 3x that
 * tries to download a missing binary (and prints a stack trace offline); here a missing
 * binary simply means "use the headless host".
 */
export function electronBinary(): string | undefined {
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve('electron/package.json'));
  } catch {
    return undefined;
  }
  const pathFile = path.join(pkgDir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const rel = readFileSync(pathFile, 'utf8').trim();
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(pkgDir, 'dist');
  const bin = path.join(dist, rel);
  return existsSync(bin) ? bin : undefined;
}

/** Why there is no binary, in words for the user and for test skips. */
export const NO_ELECTRON_REASON =
  "Electron's binary is not installed (npm ci ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1, or it could not be downloaded: this machine has no internet access).";
