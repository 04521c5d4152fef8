import * as assert from 'node:assert/strict';
import { chromium, type BrowserContext, type LaunchOptions, type Page } from 'playwright-core';
import { tmpDir } from './tmp';
import { requireTool } from './tools';

/**
 * Debian's chromium driven by playwright-core, with a fresh profile (removed when the test file
 * ends). Without the background-networking flags Chromium tries to reach Google's hosts, which
 * this machine's closed network refuses; a page error fails the test. The page's console errors
 * are collected: a CSP violation (an inline style or script slipping in) shows up there.
 */
export async function openChromium(
  options: Omit<Parameters<typeof chromium.launchPersistentContext>[1], keyof LaunchOptions> = {},
): Promise<{ context: BrowserContext; page: Page; profile: string; consoleErrors: string[] }> {
  const executablePath = requireTool('chromium', 'apt-get install -y chromium');
  const profile = tmpDir('homeport-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 800 },
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => assert.fail(`the page threw: ${e.message}`));
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  return { context, page, profile, consoleErrors };
}
