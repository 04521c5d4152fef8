// Renders build/icon.svg to the PNG sizes electron-builder and the OSes want, and the tray
// icons (the house plus a status dot) to renderer/static/tray/, with the Chromium the tests
// use (ImageMagick is not needed). Run: node build/make-icons.mjs — the PNGs are committed.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const icon = readFileSync(join(here, 'icon.svg'), 'utf8');

const DOT = { good: '#2b9a5b', wait: '#e0a100', bad: '#d2453b' };
const trayIcon = (tone) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
  <path d="M16 3 3 13v15a1.5 1.5 0 0 0 1.5 1.5h23A1.5 1.5 0 0 0 29 28V13z" fill="#1f6f5c"/>
  <rect x="11" y="16" width="10" height="8" rx="1.5" fill="#f4f1ea"/>
  <path d="M13 16v-2.5a3 3 0 0 1 6 0V16" fill="none" stroke="#f4f1ea" stroke-width="2"/>
  ${tone in DOT ? `<circle cx="25" cy="25" r="6" fill="${DOT[tone]}" stroke="#fff" stroke-width="1.5"/>` : ''}
</svg>`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
async function render(svg, size, out) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } }));
}
for (const size of [16, 32, 48, 64, 128, 256, 512, 1024]) await render(icon, size, join(here, 'icons', `${size}x${size}.png`));
await render(icon, 512, join(here, 'icon.png'));
for (const tone of ['idle', 'good', 'wait', 'bad']) {
  await render(trayIcon(tone), 16, join(root, 'renderer', 'static', 'tray', `tray-${tone}.png`));
  await render(trayIcon(tone), 32, join(root, 'renderer', 'static', 'tray', `tray-${tone}@2x.png`));
}
await browser.close();
