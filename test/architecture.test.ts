import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './helpers/paths';

// Electron can only be imported inside main/shell/: everything else must run under plain Node
// (the CLI, the headless host, the tests), and the renderer must not reach Node at all.
const importsElectron = /(?:from\s+['"]electron(?:\/[^'"]*)?['"]|require\(\s*['"]electron(?:\/[^'"]*)?['"]\s*\)|import\(\s*['"]electron['"]\s*\))/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' ? [] : sources(p);
    return /\.(ts|tsx|js|mjs|cjs)$/.test(name) ? [p] : [];
  });
}

test('nothing outside main/shell/ and preload/ imports electron', () => {
  const offenders = ['main', 'renderer']
    .flatMap((d) => sources(path.join(repoRoot, d)))
    .filter((f) => !f.startsWith(path.join(repoRoot, 'main', 'shell') + path.sep))
    .filter((f) => importsElectron.test(readFileSync(f, 'utf8')))
    .map((f) => path.relative(repoRoot, f));
  assert.deepEqual(offenders, [], `these files import electron outside main/shell/: ${offenders.join(', ')}`);
});

test('the engine never imports the api, shell or hosts (arrows point one way)', () => {
  const upward = /from\s+['"](?:\.\.\/)+(?:api|shell|cli|headless)(?:\/|['"])/;
  const offenders = sources(path.join(repoRoot, 'main', 'engine'))
    .filter((f) => upward.test(readFileSync(f, 'utf8')))
    .map((f) => path.relative(repoRoot, f));
  assert.deepEqual(offenders, []);
});

test('the architecture check itself recognises an electron import', () => {
  assert.ok(importsElectron.test(`import { app } from 'electron';`));
  assert.ok(importsElectron.test(`const { app } = require("electron")`));
  assert.ok(!importsElectron.test(`import Store from 'electron-store';`));
});
