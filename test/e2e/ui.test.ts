import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { Runtime } from '../../main/api/runtime';
import { startHeadlessHost, type HeadlessHost } from '../../main/headless';
import { repoRoot } from '../helpers/paths';
import { requireTool } from '../helpers/tools';
import { openChromium } from '../helpers/chromium';
import { openTestRuntime, startAppWorld, worldDataDir, type AppWorld } from '../app/fixture';

// The UI end to end in a real Chromium against the headless host, a real engine, Pebble and
// BIND: the wizard runs the pre-flight checks and gets a certificate, the dashboard shows it
// with its countdown to the moment every browser accepts it, export downloads a zip.
// Screenshots (light and dark) land in dist/screenshots/ for a human to look at.

const SHOTS = path.join(repoRoot, 'dist', 'screenshots');
/** Long enough that the countdown is still running when the dashboard is checked, short enough to watch it end. */
const MARGIN_S = 20;

let world: AppWorld;
let rt: Runtime;
let host: HeadlessHost;
let context: BrowserContext;
let page: Page;
let profile: string;
let consoleErrors: string[];

before(async () => {
  requireTool('unzip');
  mkdirSync(SHOTS, { recursive: true });
  world = await startAppWorld();
  // A fresh user: no e-mail and no terms accepted yet, so the wizard asks.
  rt = await openTestRuntime(await worldDataDir(world, { email: null, acceptTos: false, firstIssuanceMarginSeconds: MARGIN_S }));
  host = await startHeadlessHost({ api: rt.api });
  ({ context, page, profile, consoleErrors } = await openChromium({ acceptDownloads: true, colorScheme: 'light' }));
});

after(async () => {
  await context?.close();
  await host?.close();
  await rt?.close();
  await world?.stop();
});

/**
 * The visible notices and the controls they overlap (none: they live in the top bar). Page
 * code is a string: this test is compiled without the DOM types.
 */
const COVERED = `(() => {
  // From the top: what scrolls under the sticky bar is hidden by the bar, notice or not.
  window.scrollTo(0, 0);
  const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const toasts = [...document.querySelectorAll('.toast')].filter(visible).map((t) => t.getBoundingClientRect());
  const controls = [...document.querySelectorAll('a, button, input, select, textarea, summary, [tabindex]')].filter((c) => visible(c) && !c.closest('.toast'));
  const covered = [];
  for (const t of toasts) {
    for (const c of controls) {
      const r = c.getBoundingClientRect();
      if (r.left < t.right && t.left < r.right && r.top < t.bottom && t.top < r.bottom) covered.push(c.outerHTML.slice(0, 80));
    }
  }
  return { toasts: toasts.length, covered };
})()`;

/** Timeline labels that overlap each other, or that the dashed "now" line runs through. */
const TIMELINE_CLASHES = `(() => {
  const clashes = [];
  for (const svg of document.querySelectorAll('svg.timeline')) {
    const texts = [...svg.querySelectorAll('text')].map((t) => ({ name: t.textContent, r: t.getBoundingClientRect() }));
    const line = svg.querySelector('.now-line');
    const boxes = line ? [...texts, { name: 'now line', r: line.getBoundingClientRect() }] : texts;
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r, b = boxes[j].r;
        if (a.left <= b.right && b.left <= a.right && a.top < b.bottom && b.top < a.bottom) clashes.push(boxes[i].name + ' / ' + boxes[j].name);
      }
    }
  }
  return clashes.filter((c) => c !== 'now / now line');
})()`;

async function noticesCoverNothing(): Promise<number> {
  assert.deepEqual(await page.evaluate(TIMELINE_CLASHES), [], 'timeline labels overlap');
  const { toasts, covered } = (await page.evaluate(COVERED)) as { toasts: number; covered: string[] };
  assert.deepEqual(covered, [], 'a notice covers a control');
  return toasts;
}

/** A full-page screenshot from the top (a sticky bar would otherwise land mid-page), checked for covered controls. */
async function shot(name: string): Promise<void> {
  await noticesCoverNothing();
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

test('the printed link opens the wizard; pre-flight blocks a name with a stray AAAA record', async () => {
  await page.goto(host.url);
  assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
  await page.waitForSelector('[data-view=wizard]');
  assert.equal(await page.textContent('h1'), 'Welcome to Homeport');
  await shot('wizard-names-light');
  await page.fill('#names', 'nas.example.com');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-verdict=blocked]');
  const dns = page.locator('[data-check=dns]');
  assert.match(await dns.innerText(), /nas\.example\.com has an AAAA record 2001:db8::99 that is not this host/);
  assert.match(await dns.locator('.fix').innerText(), /Remove the AAAA record/);
  assert.equal(await page.isDisabled('button.primary:has-text("Continue")'), true, 'a blocked name cannot go on');
  await shot('wizard-blocked-light');
});

test('the wizard passes the checks and gets a certificate from Pebble', async () => {
  await page.click('button:has-text("Back")');
  await page.fill('#names', 'home.example.com, www.home.example.com');
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-verdict=ready]');
  assert.match(await page.innerText('[data-verdict=ready]'), /Homeport will prove control with HTTP on port 80/);
  assert.equal(await page.locator('.check-group').count(), 2);
  assert.equal(await page.locator('.check.fail').count(), 0);
  await shot('wizard-ready-light');
  await page.click('button:has-text("Continue")');
  await page.fill('#email', 'me@example.com');
  await page.check('#tos');
  assert.equal(await page.isChecked('input[name=policy][value=serve-now]'), true, 'serve-now is the first-certificate default');
  await shot('wizard-issue-light');
  await page.click('button:has-text("Get certificate")');
  await page.waitForSelector('[data-view=detail] h1:has-text("home.example.com")', { timeout: 60_000 });
  await page.waitForSelector('.toast:has-text("Certificate for home.example.com issued.")');
  assert.match(page.url(), /#\/cert\/home\.example\.com$/);
  await page.waitForSelector('.callout.wait .countdown');
  await page.waitForSelector('svg.timeline');
  assert.match(await page.innerText('[data-section=ct]'), /private CA/);
  await shot('detail-light');
});

test('the dashboard shows the certificate and its countdown to every browser', async () => {
  await page.click('nav a:has-text("Dashboard")');
  const card = page.locator('[data-cert="home.example.com"]');
  await card.waitFor();
  assert.equal(await card.locator('.badge').innerText(), 'Active');
  assert.match(await card.innerText(), /also www\.home\.example\.com/);
  const left = await card.locator('.countdown').innerText();
  assert.match(left, /^0:[0-5]\d$/, `countdown shows m:ss, got ${left}`);
  assert.ok(Number(left.split(':')[1]) <= MARGIN_S);
  assert.match(await card.innerText(), /Expires\s+in 5 years/, 'Pebble certificates last five years');
  await shot('dashboard-light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('dashboard-dark');
  await page.emulateMedia({ colorScheme: 'light' });
});

test('export downloads a zip with the PEM files and the PFX', async () => {
  await page.click('[data-cert="home.example.com"] a');
  await page.waitForSelector('[data-section=export]');
  await page.fill('input[name=pfx-password]', 'correct horse');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('button[data-format=zip]')]);
  assert.equal(download.suggestedFilename(), 'home.example.com.zip');
  const file = path.join(profile, 'download.zip');
  await download.saveAs(file);
  const entries = execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(entries, ['home.example.com/cert.pem', 'home.example.com/chain.pem', 'home.example.com/fullchain.pem', 'home.example.com/home.example.com.pfx', 'home.example.com/key.pem']);
  await page.waitForSelector('.toast:has-text("Saved home.example.com.zip")');
});

test('when the countdown ends the engine says so and the page shows it', async () => {
  // cert:ct-ready comes from the engine's timer over server-sent events; the page then re-reads its state.
  await page.waitForSelector('.toast:has-text("home.example.com is now accepted by every browser")', { timeout: (MARGIN_S + 30) * 1000 });
  await page.waitForSelector('.callout.good:has-text("Every browser accepts this certificate.")');
  assert.equal(await page.locator('.callout.wait').count(), 0);
  await shot('detail-ready-light');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('detail-ready-dark');
});

test('settings: switching to dark is saved and applied', async () => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.click('nav a:has-text("Settings")');
  await page.waitForSelector('#theme');
  assert.equal(await page.inputValue('#email'), 'me@example.com', 'the e-mail from the wizard was saved');
  await page.selectOption('#theme', 'dark');
  await page.click('button:has-text("Save")');
  await page.waitForSelector('.toast:has-text("Settings saved.")');
  assert.equal(await noticesCoverNothing(), 1, 'the newest notice shows');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
  await shot('settings-dark');
  // A narrow window: the notice takes a line of its own in the bar.
  await page.setViewportSize({ width: 420, height: 800 });
  assert.equal(await noticesCoverNothing(), 1);
  await shot('settings-narrow-dark');
  await page.setViewportSize({ width: 1100, height: 800 });
  await page.reload();
  await page.waitForSelector('[data-view]');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark', 'the choice survives a reload');
});

test('settings: an emptied DNS resolver goes back to the system resolver; no start-at-login box headless', async () => {
  await page.waitForSelector('#resolver');
  assert.equal(await page.locator('#launch').count(), 0, 'this host cannot start at login');
  const custom = await page.inputValue('#resolver');
  assert.notEqual(custom, '');
  const resolverNow = async () => {
    const r = await rt.api.call('getSettings', undefined);
    assert.ok(r.ok);
    return (r.value as { resolver?: string }).resolver;
  };
  const saved = async (want: string | undefined) => {
    for (let i = 0; i < 100 && (await resolverNow()) !== want; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await resolverNow(), want);
  };
  await page.fill('#resolver', '');
  await page.click('button:has-text("Save")');
  await saved(undefined);
  assert.equal(await page.locator('.form-status [role=alert]').count(), 0);
  // Put the test world's DNS server back for whatever runs next.
  await page.fill('#resolver', custom);
  await page.click('button:has-text("Save")');
  await saved(custom);
});

test('no console errors along the way (CSP violations would show here)', () => {
  assert.deepEqual(consoleErrors, []);
});
