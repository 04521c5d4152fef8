import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { electronBinary } from './shell/binary';

/**
 * `npm start`: the Electron app when its binary is installed, else the same engine and UI
 * through the headless host on 127.0.0.1 (`--headless` forces that).
 */
async function main(): Promise<void> {
  const bin = process.argv.includes('--headless') ? undefined : electronBinary();
  if (bin) {
    const appDir = path.resolve(__dirname, '..', '..');
    const child = spawn(bin, [appDir], { stdio: 'inherit' });
    child.on('exit', (code, signal) => {
      process.exitCode = code ?? (signal ? 1 : 0);
    });
    return;
  }
  const { runHeadless } = await import('./headless.js');
  await runHeadless();
}

main().catch(async (e: unknown) => {
  const { fail } = await import('./cli/output.js');
  fail(e);
});
