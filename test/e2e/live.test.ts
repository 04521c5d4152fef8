import { after, afterEach, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { filePrefsStore } from '../../main/api/prefs';
import { openRuntime, type Runtime } from '../../main/api/runtime';
import type { Issuer } from '../../main/engine/certs/types';
import { startHeadlessHost, type HeadlessHost } from '../../main/headless';
import { LocalCa } from '../certs/local-ca';
import { startAppWorld, worldDataDir, type AppWorld } from '../app/fixture';
import { openChromium } from '../helpers/chromium';
import { repoRoot } from '../helpers/paths';

// The page while the engine talks: its events (cert:state, progress, …) arrive while the user
// is typing or waiting for an action, and must neither wipe the input nor cut the action off;
// the wizard lists only its own certificate's progress; an input error marks its field.
// The world's BIND answers the wizard's pre-flight; certificates come from a local test CA
// that a test can hold mid-issuance, so the engine's events come while the page is busy.

const SHOTS = path.join(repoRoot, 'dist', 'screenshots');
const CERT = 'home.example.com';

let world: AppWorld;
let rt: Runtime;
let host: HeadlessHost;
let context: BrowserContext;
let page: Page;
let consoleErrors: string[];

const ca = new LocalCa({ notBefore: () => Date.now() - 60_000, lifetimeMs: 90 * 86_400_000 });
/** The next issuance waits here after the CA's progress step, until the test lets it finish or fail. */
let held: { arrive(): void; outcome: Promise<void> } | undefined;
const issuer: Issuer = {
  async issue(req) {
    const cert = await ca.issue(req);
    const h = held;
    held = undefined;
    if (h) {
      h.arrive();
      await h.outcome;
    }
    return cert;
  },
};

/** A test that fails mid-issuance must not leave the certificate locked for the next one. */
const unfinished = new Set<() => void>();
afterEach(() => {
  held = undefined;
  for (const release of unfinished) release();
  unfinished.clear();
});

function hold(): { reached: Promise<void>; release(): void; fail(e: Error): void } {
  let arrive!: () => void;
  let release!: () => void;
  let fail!: (e: Error) => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const outcome = new Promise<void>((res, rej) => {
    release = res;
    fail = rej;
  });
  held = { arrive, outcome };
  unfinished.add(release);
  return { reached, release, fail };
}

async function call(method: string, input: unknown): Promise<unknown> {
  const r = await rt.api.call(method, input);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  return r.value;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  world = await startAppWorld();
  const dataDir = await worldDataDir(world, { firstIssuanceMarginSeconds: 2 });
  rt = await openRuntime({ dataDir, host: 'headless', prefs: filePrefsStore(dataDir), engine: { issuer } });
  // notBefore a minute back: every certificate is ready at once and ends up active.
  await call('updateSettings', { ctMargins: { renewalSeconds: 2 } });
  await call('issue', { names: [CERT], servingPolicy: 'serve-now' });
  host = await startHeadlessHost({ api: rt.api });
  ({ context, page, consoleErrors } = await openChromium());
});

after(async () => {
  await context?.close();
  await host?.close();
  await rt?.close();
  await world?.stop();
});

/** A hold the page never reaches fails its test instead of hanging the file. */
const LIMIT = { timeout: 60_000 };
const badge = (state: string) => page.waitForSelector(`[data-cert="${CERT}"] .badge[data-state=${state}]`);
const focusedName = () => page.evaluate('document.activeElement && document.activeElement.name');

test('a half-typed route survives the engine events of a renewal on the dashboard', LIMIT, async () => {
  await page.goto(host.url);
  await badge('active');
  await page.fill('input[name=host]', 'jellyfin.example.com');
  await page.fill('input[name=upstream]', 'http://192.168.1.20:8096');
  const held = hold();
  const renewal = call('renew', { name: CERT, force: true });
  await held.reached;
  // cert:state redraws the card while the user is still in the form.
  await badge('issuing');
  assert.equal(await page.inputValue('input[name=host]'), 'jellyfin.example.com');
  assert.equal(await page.inputValue('input[name=upstream]'), 'http://192.168.1.20:8096');
  assert.equal(await focusedName(), 'upstream', 'the field being typed in keeps the focus');
  held.release();
  await renewal;
  await badge('active');
  assert.equal(await page.inputValue('input[name=upstream]'), 'http://192.168.1.20:8096');
  await page.click('button:has-text("Add route")');
  await page.waitForSelector('[data-route="jellyfin.example.com"]');
  assert.equal(await page.inputValue('input[name=host]'), '', 'an added route empties the form');
});

test('Renew now stays busy through the engine\'s events, then reports its result; a typed export password stays', LIMIT, async () => {
  await page.goto(`${host.base}#/cert/${CERT}`);
  await page.waitForSelector('[data-section=export]');
  await page.fill('input[name=pfx-password]', 'correct horse');
  const renew = page.locator('button:has-text("Renew now")');
  const busy = async () => {
    assert.equal(await renew.isDisabled(), true, 'no second renewal while one runs');
    assert.equal(await page.locator('.form-status:has-text("Renewing…")').count(), 1);
    assert.equal(await page.inputValue('input[name=pfx-password]'), 'correct horse');
  };

  let held = hold();
  await renew.click();
  await held.reached;
  await page.waitForSelector('[data-view=detail] .page-head .badge[data-state=issuing]');
  await busy();
  held.release();
  await page.waitForSelector(`.toast:has-text("Renewed ${CERT}.")`);
  await page.waitForSelector('[data-view=detail] .page-head .badge[data-state=active]');
  assert.equal(await renew.isEnabled(), true);
  assert.equal(await page.locator('.form-status:has-text("Renewing…")').count(), 0);

  held = hold();
  await renew.click();
  await held.reached;
  await page.waitForSelector('[data-view=detail] .page-head .badge[data-state=issuing]');
  await busy();
  held.fail(new Error('the local test CA is down'));
  // The failure redraws the page (cert:state, cert:failed) and its message stays in view.
  await page.waitForSelector('[data-view=detail] .page-head .badge[data-state=failed]');
  await page.waitForSelector('.actions [role=alert]:has-text("the local test CA is down")');
  assert.equal(await renew.isEnabled(), true);
  assert.equal(await page.inputValue('input[name=pfx-password]'), 'correct horse');
  await call('renew', { name: CERT, force: true });
  await page.waitForSelector('[data-view=detail] .page-head .badge[data-state=active]');
});

test('the wizard lists the progress of its own certificate only, not of a renewal running meanwhile', LIMIT, async () => {
  await page.click('nav a:has-text("Add certificate")');
  await page.fill('#names', 'www.home.example.com');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-verdict=ready]');
  await page.click('button:has-text("Continue")');
  await page.waitForSelector('button:has-text("Get certificate")');
  let held = hold();
  const renewal = rt.api.call('renew', { name: CERT, force: true });
  await held.reached;
  held.fail(new Error('the local test CA is out to lunch'));
  assert.equal((await renewal).ok, false);
  // cert:failed comes after the renewal's progress on the same event stream: by its notice the page has had them all.
  await page.waitForSelector('.toast:has-text("the local test CA is out to lunch")');
  assert.deepEqual(await page.locator('.progress li').allInnerTexts(), [], 'another certificate\'s progress showed');

  held = hold();
  await page.click('button:has-text("Get certificate")');
  await held.reached;
  await page.waitForSelector('.progress li:has-text("Asking the local test CA")');
  assert.deepEqual(await page.locator('.progress li').allInnerTexts(), ['Asking the local test CA']);
  held.release();
  await page.waitForSelector('[data-view=detail] h1:has-text("www.home.example.com")');
});

test('an input error marks the field it names and focuses it', async () => {
  await page.click('nav a:has-text("Dashboard")');
  await page.fill('input[name=host]', 'nas.example.com');
  await page.fill('input[name=upstream]', '192.168.1.20:8096');
  await page.click('button:has-text("Add route")');
  await page.waitForSelector('.routes [role=alert]:has-text("Correct the highlighted field")');
  assert.equal(await page.getAttribute('input[name=upstream]', 'aria-invalid'), 'true');
  assert.equal(await page.getAttribute('input[name=host]', 'aria-invalid'), null);
  assert.equal(await focusedName(), 'upstream');
  await page.type('input[name=upstream]', 'x');
  assert.equal(await page.getAttribute('input[name=upstream]', 'aria-invalid'), null, 'editing the field clears the mark');

  await page.click('nav a:has-text("Settings")');
  await page.waitForSelector('#resolver');
  await page.fill('#resolver', 'not a resolver');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('.form-status [role=alert]:has-text("Correct the highlighted field")');
  assert.equal(await page.getAttribute('#resolver', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate('document.activeElement.id'), 'resolver');
  assert.equal(await page.locator('[aria-invalid=true]').count(), 1);
  // From the top, as test/e2e/ui.test.ts shoots: the sticky bar would otherwise land mid-page.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(SHOTS, 'settings-invalid-light.png'), fullPage: true });

  await page.goto(`${host.base}#/cert/${CERT}`);
  await page.click('button[data-format=pfx]');
  await page.waitForSelector('[data-section=export] [role=alert]:has-text("A PFX file needs a password")');
  assert.equal(await page.getAttribute('input[name=pfx-password]', 'aria-invalid'), 'true');
  assert.equal(await focusedName(), 'pfx-password');
});

test('no console errors along the way (CSP violations would show here)', () => {
  assert.deepEqual(consoleErrors, []);
});
