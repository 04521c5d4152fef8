import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpDir } from '../helpers/tmp';
import { cliPath } from '../helpers/paths';
import { acme } from '../../main/engine/acme/acme-http';

// acme-client and its axios / x509 / forge stack load only when an ACME request is made:
// commands that never talk to a CA start without them.
const HEAVY = /[\\/]node_modules[\\/](acme-client|axios|@peculiar[\\/]x509|node-forge)[\\/]/;

function heavyModulesLoadedBy(args: string[]): string[] {
  const script = `
    process.argv = [process.argv[0], ${JSON.stringify(cliPath)}, ...${JSON.stringify(args)}];
    process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));
    require(${JSON.stringify(cliPath)});`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, HOMEPORT_DATA_DIR: tmpDir() } });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, `the CLI ran: ${r.stderr}`);
  return (JSON.parse(line.slice('LOADED '.length)) as string[]).filter((f) => HEAVY.test(f));
}

test('the pattern finds acme-client once it is loaded', () => {
  acme();
  assert.ok(Object.keys(require.cache).some((f) => HEAVY.test(f)));
});

for (const args of [['--help'], ['status'], ['status', '--json'], ['ct', '--help'], ['export', 'nothing.example.test', '--format', 'pem', '--out', '/nonexistent/x']]) {
  test(`homeport ${args.join(' ')} does not load acme-client`, () => {
    assert.deepEqual(heavyModulesLoadedBy(args), []);
  });
}
