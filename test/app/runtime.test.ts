import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { UI_EVENTS } from '../../main/api/runtime';
import { DEFAULT_PREFS, filePrefsStore } from '../../main/api/prefs';
import { noticeFor, trayTone } from '../../main/shell/status';
import type { CertificateSummary } from '../../main/api/contract';
import { repoRoot } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';

test('the UI hears every engine event declared in events.ts', () => {
  const src = readFileSync(path.join(repoRoot, 'main', 'engine', 'events.ts'), 'utf8');
  const body = src.slice(src.indexOf('export interface EngineEvents'), src.indexOf('export type EngineEventName'));
  const declared = [...body.matchAll(/^ {2}'?([\w:-]+)'?: \{/gm)].map((m) => m[1]);
  assert.ok(declared.length >= 6, `parsed ${declared.join(', ')}`);
  assert.deepEqual([...UI_EVENTS].sort(), declared.sort(), 'add the new event to UI_EVENTS in main/api/runtime.ts');
});

test('app preferences: defaults, a damaged file falls back field by field, saved 0600', async () => {
  const dir = tmpDir();
  const store = filePrefsStore(dir);
  assert.deepEqual(await store.get(), DEFAULT_PREFS);
  writeFileSync(path.join(dir, 'app-settings.json'), JSON.stringify({ theme: 'dark', notify: 'loud', launchAtLogin: 'maybe' }));
  assert.deepEqual(await store.get(), { ...DEFAULT_PREFS, theme: 'dark' });
  writeFileSync(path.join(dir, 'app-settings.json'), '{ not json');
  assert.deepEqual(await store.get(), DEFAULT_PREFS);
  await store.set({ ...DEFAULT_PREFS, theme: 'light' });
  assert.equal((await store.get()).theme, 'light');
  assert.equal(statSync(path.join(dir, 'app-settings.json')).mode & 0o777, 0o600);
});

const cert = (name: string, state: CertificateSummary['state']): CertificateSummary => ({ name, names: [name], state, servingPolicy: 'hold' });

test('the tray tone and text follow the worst certificate', () => {
  assert.deepEqual(trayTone({ certificates: [] }), { tone: 'idle', text: 'No certificates yet' });
  assert.deepEqual(trayTone({ certificates: [cert('a.example.com', 'active'), cert('b.example.com', 'active')] }), { tone: 'good', text: '2 certificates, all good' });
  assert.deepEqual(trayTone({ certificates: [cert('a.example.com', 'active'), cert('b.example.com', 'resting')] }), { tone: 'wait', text: '1 certificate in progress' });
  assert.deepEqual(trayTone({ certificates: [cert('a.example.com', 'failed'), cert('b.example.com', 'resting')] }), { tone: 'bad', text: 'a.example.com needs attention' });
  // Served before every browser accepts it (serve-now): still in progress until readyAt.
  const servedEarly = { ...cert('c.example.com', 'active'), current: { serial: '01', issuer: 'R11', ca: 'letsencrypt', notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-04-01T00:00:00Z', readyAt: '2026-01-01T00:00:10Z' } };
  assert.equal(trayTone({ certificates: [servedEarly] }, Date.parse('2026-01-01T00:00:05Z')).tone, 'wait');
  assert.equal(trayTone({ certificates: [servedEarly] }, Date.parse('2026-01-01T00:00:10Z')).tone, 'good');
});

test('desktop notices: ct-ready, failures with their fix, DNS drift; each can be turned off', () => {
  const on = { ctReady: true, failed: true, drift: true };
  assert.deepEqual(noticeFor({ type: 'cert:ct-ready', payload: { name: 'home.example.com', serial: '01', readyAt: '2026-01-01T00:00:00Z' } }, on), {
    title: 'home.example.com is ready', body: 'Every browser now accepts the new certificate.', name: 'home.example.com',
  });
  const failed = noticeFor({ type: 'cert:failed', payload: { name: 'nas.example.com', code: 'acme.connection', message: 'The CA could not connect.', fix: 'Open port 80.' } }, on);
  assert.equal(failed?.body, 'The CA could not connect. Open port 80.');
  const drift = noticeFor({ type: 'dns:drift', payload: { name: 'nas.example.com', checkId: 'dns', before: 'pass', after: 'fail', summary: 'A new AAAA record appeared.', fix: 'Remove it.' } }, on);
  assert.equal(drift?.title, 'nas.example.com: DNS changed');
  assert.equal(noticeFor({ type: 'cert:ct-ready', payload: { name: 'x', serial: '1', readyAt: '' } }, { ...on, ctReady: false }), null);
  assert.equal(noticeFor({ type: 'dns:drift', payload: { name: 'x', checkId: 'dns', before: '', after: '', summary: '' } }, { ...on, drift: false }), null);
  assert.equal(noticeFor({ type: 'progress', payload: { name: 'x', step: 'y' } }, on), null);
});
