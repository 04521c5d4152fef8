import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { openRuntime, type Runtime } from '../../main/api/runtime';
import { filePrefsStore } from '../../main/api/prefs';
import type { CertificateDetail } from '../../main/api/contract';
import type { IssuedCertificate, Issuer } from '../../main/engine/certs/types';
import { updateConfig } from '../../main/engine/config/file';
import { parseSignedLogList } from '../../main/engine/ct/log-list';
import { startHeadlessHost, type HeadlessHost } from '../../main/headless';
import { startCtTestbed, type CtTestbed } from '../ct-logs/testbed';
import { repoRoot } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';
import { openChromium } from '../helpers/chromium';

// The certificate page for a certificate from the CT testbed (test/ct-logs): its test CA
// submits the precertificate to three loopback logs of two operators, embeds the SCTs they
// sign and issues the final certificate. The engine is given the testbed's signed log list
// and told to treat the test CA as public, so the page shows what it shows for a real CA:
// verified SCTs with their logs and operators, each browser's verdict, and the CT wait
// (the last SCT + the 30 s first-certificate margin) counting down.

const SHOTS = path.join(repoRoot, 'dist', 'screenshots');
const MARGIN_S = 30;
let bed: CtTestbed;
let rt: Runtime;
let host: HeadlessHost;
let context: BrowserContext;
let page: Page;
let sctTimes: number[] = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  bed = await startCtTestbed();
  const logs = [bed.argon, bed.sky, bed.lagging];
  const issuer: Issuer = {
    async issue(req): Promise<IssuedCertificate> {
      const cert = await bed.ca.issue({ names: req.names, logs: logs.map((l) => l.url) });
      sctTimes = cert.responses.map((r) => r.timestamp);
      return { certPem: cert.certPem, chainPem: cert.chainPem, keyPem: cert.keyPem, ca: 'ct-test-ca' };
    },
  };
  // The list as Homeport loads Chrome's: its signature checked against the list's key.
  const { json, signature, publicKeyPem } = bed.signedList;
  const logList = parseSignedLogList(json, signature, publicKeyPem);
  const dataDir = tmpDir('homeport-detail-');
  await updateConfig(dataDir, (c) => ({ ...c, email: 'ops@example.com', acceptTos: true, ct: { ...c.ct, firstIssuanceMarginSeconds: MARGIN_S, refreshLogList: false } }));
  rt = await openRuntime({ dataDir, host: 'headless', prefs: filePrefsStore(dataDir), engine: { issuer, logList, ctApplicability: 'public' } });
  host = await startHeadlessHost({ api: rt.api });
  ({ context, page } = await openChromium());
});

after(async () => {
  await context?.close();
  await host?.close();
  await rt?.close();
  await bed?.stop();
});

test('the contract carries the embedded SCTs as the engine verified them, with each browser\'s verdict', async () => {
  const issued = await rt.api.call('issue', { names: ['ct.example.com'], servingPolicy: 'serve-now' });
  assert.ok(issued.ok, JSON.stringify(!issued.ok && issued.error));
  const r = await rt.api.call('getCertificate', { name: 'ct.example.com' });
  assert.ok(r.ok);
  const d = r.value as CertificateDetail;
  assert.equal(d.ct.applicable, true, 'treated as public: CT applies');
  assert.deepEqual(d.ct.scts.map((s) => Date.parse(s.timestamp)), sctTimes);
  assert.deepEqual(
    d.ct.scts.map((s) => [s.log?.name, s.log?.operator, s.log?.state, s.signatureValid]),
    [
      ['Homeport Test Argon', 'Test Operator A', 'usable', true],
      ['Homeport Test Sky', 'Test Operator B', 'usable', true],
      ['Homeport Test Lagging', 'Test Operator B', 'usable', true],
    ],
  );
  assert.ok(d.ct.policies, 'a public certificate is judged by every browser');
  for (const p of Object.values(d.ct.policies)) assert.equal(p.compliant, true, p.reason);
  // Ready once the last SCT needed is stamped, plus the first-certificate margin.
  const readyAt = Date.parse(d.current!.readyAt!);
  assert.ok(readyAt > Math.min(...sctTimes) && readyAt <= Math.max(...sctTimes) + MARGIN_S * 1000, d.current!.readyReason);
  assert.ok(readyAt >= Math.min(...sctTimes) + MARGIN_S * 1000, 'the margin is added');
});

test('the certificate page shows the verified SCTs, their logs and operators, the policies and the wait', async () => {
  await page.goto(host.url);
  await page.goto(`${host.base}#/cert/ct.example.com`);
  await page.waitForSelector('[data-section=ct] table');
  assert.equal(await page.locator('svg.timeline .mark.sct').count(), 3);
  assert.equal(await page.locator('svg.timeline text:has-text("3 SCTs")').count(), 1);
  const rows = page.locator('[data-section=ct] tbody tr');
  assert.equal(await rows.count(), 3);
  const first = await rows.first().innerText();
  assert.match(first, /Homeport Test Argon/);
  assert.match(first, /Test Operator A/);
  assert.match(first, /valid/);
  assert.doesNotMatch(await page.innerText('[data-section=ct] tbody'), /not checked|invalid|unknown/);
  for (const browser of ['Chrome', 'Firefox', 'Safari']) {
    assert.equal(await page.locator(`[data-policy=${browser}].pass`).count(), 1, `${browser} accepts it`);
  }
  assert.equal(await page.locator('.callout.wait .countdown').count(), 1, `ready ${MARGIN_S} s after the last SCT: still counting`);
  await page.screenshot({ path: path.join(SHOTS, 'detail-scts-light.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(SHOTS, 'detail-scts-dark.png'), fullPage: true });
});
