import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { homeport, reason } from '../cli/helpers';
import { repoRoot } from '../helpers/paths';
import { tmpDir } from '../helpers/tmp';
import { ordinaryUser } from '../helpers/unprivileged';

// Port 80 refused for real: each listener runs in a child process as an ordinary user (nobody
// when the tests run as root), which Linux keeps off ports below 1024.

const { spawnAs, portIsPrivileged } = ordinaryUser(80);
const skip = portIsPrivileged ? false : 'this machine lets every user listen on port 80 (net.ipv4.ip_unprivileged_port_start ≤ 80)';
const setcap = `sudo setcap cap_net_bind_service=+ep "${realpathSync(process.execPath)}"`;

/** Runs `body` (JavaScript, with `dist` bound to the built main/engine) as the ordinary user; its JSON output. */
function asOrdinaryUser(body: string): Promise<unknown> {
  const script = `const dist = ${JSON.stringify(path.join(repoRoot, 'dist', 'main', 'engine'))};
    (async () => { ${body} })().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', script], { ...spawnAs }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout)))),
  );
}

test('homeport serve on port 80 without the privilege: one plain line naming the port, and the command that allows it', { skip }, async () => {
  const dataDir = tmpDir();
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ ct: { refreshLogList: false }, proxy: { listen: ['127.0.0.1'] } }));
  if (spawnAs.uid !== undefined) chownSync(dataDir, spawnAs.uid, spawnAs.gid!);
  const r = await homeport(['serve', '--data-dir', dataDir, '--http-port', '80', '--https-port', '443'], { spawn: spawnAs });
  assert.equal(r.code, 1, r.stderr);
  const line = reason(r);
  assert.match(line, /may not listen on port 80 \(ports below 1024 are privileged\), so Homeport cannot serve on it/);
  assert.ok(line.includes(setcap), line);
  assert.match(line, /ports above 1023/);
});

test('the challenge listener on port 80 without the privilege: listener.port-privileged with the command', { skip }, async () => {
  const e = (await asOrdinaryUser(`
    const { startChallengeListeners } = require(dist + '/acme/challenge-listeners.js');
    const { ChallengeStore } = require(dist + '/acme/challenges.js');
    try { await startChallengeListeners({ store: new ChallengeStore(), httpPort: 80, httpsPort: 0, host: '127.0.0.1' }); return 'listening'; }
    catch (e) { return { code: e.code, message: e.message, fix: e.fix }; }`)) as { code: string; message: string; fix: string };
  assert.equal(e.code, 'listener.port-privileged');
  assert.match(e.message, /port 80 \(ports below 1024 are privileged\), so Homeport cannot answer http-01 challenges on it/);
  assert.ok(e.fix.includes(setcap), e.fix);
  assert.match(e.fix, /--http-port 8080/);
});

test('pre-flight sees the same before any CA is asked: both ports denied, the fix names the command', { skip }, async () => {
  const r = (await asOrdinaryUser(`
    const { checkPorts } = require(dist + '/preflight/ports.js');
    return checkPorts({ httpPort: 80, httpsPort: 443 });`)) as { result: { status: string; summary: string; fix: string | null }; facts: { http: string; https: string } };
  assert.deepEqual(r.facts, { http: 'denied', https: 'denied' });
  assert.notEqual(r.result.status, 'pass');
  assert.ok(r.result.fix?.includes(setcap), String(r.result.fix));
});
