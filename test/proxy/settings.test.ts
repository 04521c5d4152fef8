import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../main/engine/config/file';

test('config.json carries the proxy settings, typed and filled with defaults; a bad one names its field', () => {
  const c = parseConfig({});
  assert.equal(c.proxy.unknownName, 'refuse');
  assert.deepEqual(c.proxy.listen, ['::']);
  assert.equal(c.proxy.headersTimeoutMs, 20_000);
  assert.equal(parseConfig({ proxy: { workers: 2, accessLog: false } }).proxy.workers, 2);
  assert.throws(() => parseConfig({ proxy: { workers: 0 } }, 'config.json'), /config\.json: proxy\.workers /);
  assert.throws(
    () => parseConfig({ proxy: { unknownName: 'default-certificate' } }, 'config.json'),
    /proxy\.defaultCertificate name the certificate to answer unknown names with/,
  );
});
