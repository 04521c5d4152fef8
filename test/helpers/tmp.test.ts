import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// tmpDir() is called from before() hooks all over the suite: the directory must outlive the
// hook and still be gone when the test file's process ends.
test('a tmpDir made in a before() hook lasts through the tests and is removed at exit', () => {
  const script = `
    const { before, test } = require('node:test');
    const { existsSync, writeFileSync } = require('node:fs');
    const { tmpDir } = require(${JSON.stringify(require.resolve('./tmp'))});
    let dir;
    before(() => { dir = tmpDir('homeport-tmp-check-'); });
    test('uses it', () => {
      if (!existsSync(dir)) throw new Error('removed before the test ran');
      writeFileSync(dir + '/file', 'x');
      console.log('DIR=' + dir);
    });
  `;
  // Its own test run, reporting in TAP rather than to this runner.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const out = execFileSync(process.execPath, ['--test-reporter=tap', '-e', script], { encoding: 'utf8', env });
  const dir = /DIR=(\S+)/.exec(out)?.[1];
  assert.ok(dir, out);
  assert.match(out, /# pass 1/);
  assert.equal(existsSync(dir), false, 'removed when the process ended');
});
