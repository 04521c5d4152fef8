import { realpathSync } from 'node:fs';

/**
 * Linux keeps ports below 1024 for privileged programs (macOS and Windows do not), so a
 * listener there fails with EACCES, or EPERM under some sandboxes.
 */
export function isPortDenied(e: NodeJS.ErrnoException): boolean {
  return e.code === 'EACCES' || e.code === 'EPERM';
}

/**
 * How to let this very program listen on a low port. It names the binary that runs (node for
 * the CLI, the app's own binary for the desktop app) resolved past links, which setcap refuses.
 */
export function allowLowPortsCommand(): string {
  let binary = process.execPath;
  try {
    binary = realpathSync(binary);
  } catch {
    /* keep the path as Node reports it */
  }
  return `sudo setcap cap_net_bind_service=+ep "${binary}"`;
}
