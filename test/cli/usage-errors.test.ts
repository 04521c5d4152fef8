import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { freePort } from '../helpers/ports';
import { tmpDir } from '../helpers/tmp';
import { homeport, reason } from './helpers';

// Usage errors: exit 2 (apart from check's "blocked" and ct's "not ready", both 1) and one
// plain line naming what to change. Nothing here gets past parsing, so nothing is asked or written.

/** The one stderr line; nothing else is printed there. */
function only(r: Awaited<ReturnType<typeof homeport>>): string {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  return reason(r);
}

test('a mistyped flag of issue is refused before anything is saved, and the error names the flag', async () => {
  const dataDir = tmpDir();
  // A CA on loopback that answers nothing, should anything get as far as asking it.
  const ca = `https://127.0.0.1:${await freePort()}/dir`;
  const good = { '--email': 'you@example.com', '--ca': ca, '--resolver': '127.0.0.1:53', '--public-ip': '203.0.113.7' };
  for (const [flag, bad, fix] of [
    ['--email', 'you@@example.com', /Give an e-mail address like you@example\.com\.$/],
    ['--ca', 'letsencrypt-stagin', /Use one of letsencrypt, letsencrypt-staging, zerossl, google, buypass or the https URL of an ACME directory\.$/],
    ['--ca', 'http://127.0.0.1/dir', /ACME directories are served over https: give the https:\/\/ URL\.$/],
    ['--resolver', '192.168.1.1', /Give host:port with a port from 1 to 65535/],
    ['--public-ip', '203.0.113', /Give IPv4 or IPv6 addresses/],
    ['--cert-name', 'My Cert', /Use lower-case letters, digits, "\.", "_" or "-" \(it names a directory\)/],
  ] as const) {
    const flags = Object.entries({ ...good, [flag]: bad }).flat();
    const r = await homeport(['issue', 'typo.example.test', ...flags, '--accept-tos', '--data-dir', dataDir]);
    const line = only(r);
    assert.ok(line.startsWith(`homeport: ${flag} ${JSON.stringify(bad)} is not valid. Fix: `), line);
    assert.match(line, fix);
  }
  assert.deepEqual(readdirSync(dataDir), [], 'no certificate, CA or e-mail was saved');
});

test('unknown options, missing arguments and bad values exit 2 with one line for every command', async () => {
  for (const [args, line] of [
    [['check', 'example.test', '--bogus'], "homeport: Unknown option '--bogus'. Fix: See homeport check --help."],
    [['check'], "homeport: Missing required argument 'name'. Fix: See homeport check --help."],
    [['ct', '--bogus', 'x.pem'], "homeport: Unknown option '--bogus'. Fix: See homeport ct --help."],
    [['ct', 'x.pem', '--jsn'], "homeport: Unknown option '--jsn' (Did you mean --json?) Fix: See homeport ct --help."],
    [['issue', 'x.example.test', '--hold-handshake', '500'], 'homeport: --hold-handshake "500" is not valid. Fix: Give whole seconds from 1 to 120.'],
    [['issue', 'x.example.test', '--http-port', '99999'], 'homeport: --http-port "99999" is not valid. Fix: Give a port number from 0 to 65535.'],
    [['check', 'x.example.test', '--https-port', 'https'], 'homeport: --https-port "https" is not valid. Fix: Give a port number from 0 to 65535.'],
    [['issue', 'x.example.test', '--key-type', 'ec512'], 'homeport: --key-type "ec512" is not valid. Fix: Allowed choices are ec256, ec384, rsa2048, rsa3072, rsa4096.'],
    [['renew', '--ca', 'nonsense'], 'homeport: --ca "nonsense" is not valid. Fix: Use one of letsencrypt, letsencrypt-staging, zerossl, google, buypass or the https URL of an ACME directory.'],
    [['status', 'a', 'b'], "homeport: Too many arguments for 'status'. Expected 1 argument but got 2. Fix: See homeport status --help."],
    [['export', 'x.example.test', '--out', 'x'], "homeport: Required option '--format <format>' not specified. Fix: See homeport export --help."],
    [['serve', '--workers', '0'], 'homeport: --workers "0" is not valid. Fix: Give a whole number from 1, or "auto" for one per CPU.'],
    [['route', 'add', 'x.example.test'], "homeport: Missing required argument 'upstream-url'. Fix: See homeport route add --help."],
    [['isue', 'x.example.test'], "homeport: Unknown command 'isue' (Did you mean issue?) Fix: See homeport --help."],
  ] as const) {
    const r = await homeport([...args]);
    assert.equal(only(r), line, args.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('with --json a usage error is also a JSON error on stdout; --help and --version exit 0', async () => {
  const missing = await homeport(['check', '--json']);
  only(missing);
  assert.deepEqual(JSON.parse(missing.stdout), {
    error: { code: 'usage.missing-argument', message: "Missing required argument 'name'.", fix: 'See homeport check --help.' },
  });
  for (const args of [['--help'], ['-v'], ['check', '--help'], ['help', 'route']]) {
    const ok = await homeport(args);
    assert.equal(ok.code, 0, `${args.join(' ')}: ${ok.stderr}`);
    assert.equal(ok.stderr, '');
  }
  const bare = await homeport([]);
  assert.equal(bare.code, 2, 'no command: the help, on stderr');
  assert.match(bare.stderr, /^Usage: homeport/);
});
