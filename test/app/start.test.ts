import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { saveConfig } from '../../main/engine/config/file';
import { ConfigSchema } from '../../main/engine/config/schema';
import { electronBinary } from '../../main/shell/binary';
import { repoRoot } from '../helpers/paths';
import { freePort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';

// `npm start` without Electron's binary: the headless host starts with the engine and the
// proxy, prints its link once, answers it, and stops cleanly on SIGTERM.

test('npm start falls back to the headless host, prints the link, serves the UI, stops on SIGTERM', async () => {
  const dataDir = tmpDir();
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  await saveConfig(dataDir, ConfigSchema.parse({ listeners: { httpPort, httpsPort }, ct: { refreshLogList: false } }));
  // --headless keeps this test meaningful on a machine that does have Electron.
  const args = [path.join(repoRoot, 'dist', 'main', 'start.js'), ...(electronBinary() ? ['--headless'] : [])];
  const child = spawn(process.execPath, args, { env: { ...process.env, HOMEPORT_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+\/\?token=[A-Za-z0-9_-]+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing the link: ${out} ${err}`)));
  });
  assert.match(out, /running without Electron/);
  assert.match(out, /do not share it/);
  const base = new URL('./', url).href;
  const token = new URL(url).searchParams.get('token')!;
  const page = await fetch(base, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(page.status, 200);
  const overview = await fetch(`${base}api/overview`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
  const body = (await overview.json()) as { ok: boolean; value: { proxy: { running: boolean; httpPort: number } } };
  assert.equal(body.ok, true);
  assert.deepEqual([body.value.proxy.running, body.value.proxy.httpPort], [true, httpPort], 'the proxy runs on the configured port');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, err);
});
