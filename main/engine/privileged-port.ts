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
function allowLowPortsCommand(): string {
  let binary = process.execPath;
  try {
    binary = realpathSync(binary);
  } catch {
    /* keep the path as Node reports it */
  }
  return `sudo setcap cap_net_bind_service=+ep "${binary}"`;
}

/** What was refused, the same sentence wherever Homeport listens: `purpose` is what it could not do there. */
export function portDeniedMessage(port: number, purpose: string): string {
  return `This user may not listen on port ${port} (ports below 1024 are privileged), so Homeport cannot ${purpose} on it.`;
}

/** The fix: the one command that allows this binary, or `instead` (other ports, forwarded by the router). */
export function portDeniedFix(instead: string): string {
  return `On Linux allow it once with \`${allowLowPortsCommand()}\` (as a systemd service: AmbientCapabilities=CAP_NET_BIND_SERVICE), or ${instead}.`;
}
