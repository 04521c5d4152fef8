import { execFileSync } from 'node:child_process';

/**
 * A test that needs an external program (pebble, named, openssl, chromium…) fails loudly
 * when it is missing: `.ci/run` installs them, so absence is a broken setup, not a skip.
 */
export function requireTool(name: string, installHint = `apt-get install -y ${name}`): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`"${name}" is not installed; this test needs it. Install it with: ${installHint} (.ci/run does).`);
  }
}
