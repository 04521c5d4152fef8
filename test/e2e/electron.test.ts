import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { _electron } from 'playwright-core';
import { saveConfig } from '../../main/engine/config/file';
import { ConfigSchema } from '../../main/engine/config/schema';
import { electronBinary, NO_ELECTRON_REASON } from '../../main/shell/binary';
import { repoRoot } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';

// The real Electron app, where its binary exists. It cannot be downloaded here (no internet,
// ELECTRON_SKIP_BINARY_DOWNLOAD=1 in .ci/run), so this skips with the reason; the security
// settings are asserted without Electron in test/app/shell-security.test.ts, and the UI runs
// end to end in Chromium in test/e2e/ui.test.ts.
const bin = electronBinary();

test('the Electron app starts, shows the UI, and exposes only the contract to the page', { skip: bin ? false : NO_ELECTRON_REASON }, async () => {
  const dataDir = tmpDir('homeport-electron-');
  // The shipped log list: the app would otherwise fetch one from the internet a minute in.
  await saveConfig(dataDir, ConfigSchema.parse({ ct: { refreshLogList: false } }));
  const app = await _electron.launch({ executablePath: bin!, args: [repoRoot], env: { ...process.env, HOMEPORT_DATA_DIR: dataDir } });
  try {
    const page = await app.firstWindow();
    await page.waitForSelector('[data-view=wizard]');
    assert.equal(await page.title(), 'Homeport');
    assert.equal(new URL(page.url()).origin, 'app://homeport');
    // Page code is given as strings: this test is compiled without the DOM types.
    const surface = (await page.evaluate('({ keys: Object.keys(window.homeport).sort(), require: typeof window.require, process: typeof window.process })')) as { keys: string[]; require: string; process: string };
    assert.deepEqual(surface.keys, ['addRoute', 'exportCertificate', 'getCertificate', 'getSettings', 'issue', 'onEvent', 'overview', 'preflight', 'removeCertificate', 'removeRoute', 'renew', 'updateSettings']);
    assert.equal(surface.require, 'undefined', 'no Node in the page');
    assert.equal(surface.process, 'undefined');
    const overview = (await page.evaluate('window.homeport.overview()')) as { ok: boolean; value: { host: string } };
    assert.deepEqual([overview.ok, overview.value.host], [true, 'electron']);
    // Navigation away from the app is refused.
    await page.evaluate("location.href = 'https://example.com/'");
    await page.waitForTimeout(200);
    assert.equal(new URL(page.url()).origin, 'app://homeport');
  } finally {
    await app.close();
  }
});
