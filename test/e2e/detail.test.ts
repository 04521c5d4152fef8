import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { openRuntime, type Runtime } from '../../main/api/runtime';
import { filePrefsStore } from '../../main/api/prefs';
import type { CertificateDetail } from '../../main/api/contract';
import type { IssuedCertificate, Issuer } from '../../main/engine/certs/types';
import { updateConfig } from '../../main/engine/config/file';
import { startHeadlessHost, type HeadlessHost } from '../../main/headless';
import { repoRoot } from '../helpers/paths';
import { requireTool } from '../helpers/tools';
import { createCa, createLog, issueLeaf } from '../ct/helpers/test-pki';

// The certificate page for a certificate with embedded SCTs, from the CT test CA (test/ct/
// helpers): a precertificate, three SCTs signed by three test logs of three operators, the
// final certificate. Its logs are in no browser's log list, so the page says their
// signatures could not be checked; the timeline shows issued → SCTs → ready → now.

const SHOTS = path.join(repoRoot, 'dist', 'screenshots');
let rt: Runtime;
let host: HeadlessHost;
let context: BrowserContext;
let page: Page;
const dirs: string[] = [];
let sctTimes: number[] = [];

before(async () => {
  const executablePath = requireTool('chromium', 'apt-get install -y chromium');
  mkdirSync(SHOTS, { recursive: true });
  const ca = createCa('Homeport CT Test CA');
  const logs = [createLog('argon-test', 'Google'), createLog('oak-test', "Let's Encrypt"), createLog('elephant-test', 'Sectigo')];
  const issuer: Issuer = {
    async issue(req): Promise<IssuedCertificate> {
      const now = Date.now();
      sctTimes = [now + 1_000, now + 2_000, now + 4_000];
      const leaf = issueLeaf({ ca, dnsName: req.names[0], notBefore: now - 1_000, notAfter: now + 90 * 86_400_000, scts: logs.map((log, i) => ({ log, timestamp: sctTimes[i]! })) });
      return { certPem: leaf.pem, chainPem: ca.pem, keyPem: leaf.keyPem, ca: 'ct-test-ca' };
    },
  };
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'homeport-detail-'));
  dirs.push(dataDir);
  await updateConfig(dataDir, (c) => ({ ...c, email: 'ops@example.com', acceptTos: true, ct: { ...c.ct, firstIssuanceMarginSeconds: 30, refreshLogList: false } }));
  rt = await openRuntime({ dataDir, host: 'headless', prefs: filePrefsStore(dataDir), engine: { issuer } });
  host = await startHeadlessHost({ api: rt.api });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'homeport-chromium-'));
  dirs.push(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 800 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
});

after(async () => {
  await context?.close();
  await host?.close();
  await rt?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the contract carries the embedded SCTs as the engine verified them', async () => {
  const issued = await rt.api.call('issue', { names: ['ct.example.com'], servingPolicy: 'serve-now' });
  assert.ok(issued.ok, JSON.stringify(!issued.ok && issued.error));
  const r = await rt.api.call('getCertificate', { name: 'ct.example.com' });
  assert.ok(r.ok);
  const d = r.value as CertificateDetail;
  assert.deepEqual(d.ct.scts.map((s) => Date.parse(s.timestamp)), sctTimes);
  assert.ok(d.ct.scts.every((s) => s.log === null && !s.signatureValid), 'logs in no list: unknown, signature not confirmed');
  assert.equal(d.ct.applicable, false);
  assert.match(d.ct.note ?? '', /private CA/);
});

test('the certificate page shows the SCTs on the timeline and in the table', async () => {
  await page.goto(host.url);
  await page.goto(`${host.origin}/#/cert/ct.example.com`);
  await page.waitForSelector('[data-section=ct] table');
  assert.equal(await page.locator('svg.timeline .mark.sct').count(), 3);
  assert.equal(await page.locator('svg.timeline text:has-text("3 SCTs")').count(), 1);
  const rows = page.locator('[data-section=ct] tbody tr');
  assert.equal(await rows.count(), 3);
  assert.match(await rows.first().innerText(), /not checked: unknown log/);
  assert.equal(await page.locator('.callout.wait .countdown').count(), 1, 'ready 30 s after notBefore: still counting');
  await page.screenshot({ path: path.join(SHOTS, 'detail-scts-light.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(SHOTS, 'detail-scts-dark.png'), fullPage: true });
});
