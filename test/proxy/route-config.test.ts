import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkRoutes } from '../../main/engine/proxy/proxy';
import { addRoute, listRoutes, removeRoute } from '../../main/engine/proxy/route-config';
import { startServing } from '../../main/engine/proxy/serve';
import { tmpDir } from '../helpers/tmp';
import { TestCa, request, startUpstream } from './fixtures';

test('two routes that routing cannot tell apart are refused, naming both', () => {
  const refused = (a: string | undefined, b: string | undefined, re: RegExp) =>
    assert.throws(
      () => checkRoutes([{ host: 'a.test', upstreams: ['http://x'], pathPrefix: a }, { host: 'a.test', upstreams: ['http://y'], pathPrefix: b }]),
      (e: Error) => re.test(e.message),
    );
  refused('/App', '/app', /the routes for a\.test\/App and a\.test\/app take the same requests .*: keep one/);
  refused(undefined, '/', /the routes for a\.test and a\.test\/ take the same requests/);
  refused('/a%62c', '/abc', /the routes for a\.test\/a%62c and a\.test\/abc take the same requests/);
  assert.equal(checkRoutes([{ host: 'a.test', upstreams: ['http://x'], pathPrefix: '/app' }, { host: 'a.test', upstreams: ['http://y'], pathPrefix: '/apps' }]).length, 2);
});

test('route add replaces the route routing would confuse it with, and route remove finds it', async () => {
  const dataDir = tmpDir();
  await addRoute(dataDir, { host: 'a.test', upstreams: ['http://127.0.0.1:1'] });
  const slash = await addRoute(dataDir, { host: 'a.test', upstreams: ['http://127.0.0.1:2'], pathPrefix: '/' });
  assert.equal(slash.replaced, true);
  await addRoute(dataDir, { host: 'a.test', upstreams: ['http://127.0.0.1:3'], pathPrefix: '/App' });
  const lower = await addRoute(dataDir, { host: 'a.test', upstreams: ['http://127.0.0.1:4'], pathPrefix: '/app' });
  assert.equal(lower.replaced, true);
  assert.deepEqual((await listRoutes(dataDir)).map((r) => [r.pathPrefix, r.upstreams[0]]), [['/', 'http://127.0.0.1:2'], ['/app', 'http://127.0.0.1:4']]);
  assert.equal((await removeRoute(dataDir, 'a.test', '/APP')).length, 1);
  assert.equal((await removeRoute(dataDir, 'a.test', '')).length, 1);
  assert.deepEqual(await listRoutes(dataDir), []);
});

test('config.json missing on a reload (moved aside to edit): the routes stay, and a notice says so', async () => {
  const ca = new TestCa();
  const up = await startUpstream((_req, res) => res.end('up'));
  const dataDir = tmpDir();
  const file = path.join(dataDir, 'config.json');
  writeFileSync(file, JSON.stringify({ proxy: { listen: ['127.0.0.1'], accessLog: false }, routes: [{ host: 'keep.test', upstreams: [up.url] }] }));
  const notices: string[] = [];
  const serving = await startServing({ dataDir, httpPort: 0, httpsPort: 0, notice: (l) => notices.push(l) });
  after(() => serving.stop(100));
  serving.certificates.activate(ca.issue('keep', ['keep.test']));
  const get = () => request(serving.ports.httpsPort, 'keep.test', { ca: ca.caPem });
  assert.equal((await get()).status, 200);

  renameSync(file, `${file}.editing`);
  await serving.reload();
  assert.ok(notices.includes('config.json is missing; keeping 1 route'), notices.join('\n'));
  assert.equal((await get()).status, 200);

  renameSync(`${file}.editing`, file);
  await serving.reload();
  assert.ok(notices.includes('Routes reloaded: 1 route'), notices.join('\n'));
  assert.equal((await get()).status, 200);
});
