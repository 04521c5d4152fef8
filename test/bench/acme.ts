/**
 * ACME benchmark against one local Pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0, set by
 * the harness), printed as ratios. Not a test: nothing here asserts a time.
 *  (a) one certificate from a cold process, start → certificate → exit: `homeport issue`
 *      (and the bare issuer script test/bench/acme-cold.ts) vs lego, certbot and Caddy;
 *  (b) a warm issuer, median of 20 sequential certificates;
 *  (c) 20 certificates ordered concurrently, all verified, wall time.
 * Usage: node dist/test/bench/acme.js   (BENCH_RUNS=n cold runs per client, default 3)
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startPebble, type Pebble } from '../helpers/pebble';
import { freePort } from '../helpers/ports';
import { requireTool } from '../helpers/tools';
import { cliPath, repoRoot } from '../helpers/paths';
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { startChallengeListeners } from '../../main/engine/acme/challenge-listeners';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'homeport-bench-acme-'));
let seq = 0;
const uniqueName = (who: string) => `${who}-${Date.now().toString(36)}-${seq++}.bench.test`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs a command to completion (or until `until` says the certificate is there, then stops it). */
function timed(cmd: string, args: string[], opts: { env?: Record<string, string>; until?: () => boolean; cwd?: string } = {}): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    let poll: NodeJS.Timeout | undefined;
    if (opts.until) {
      poll = setInterval(() => {
        if (opts.until!()) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 5);
    }
    const deadline = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(deadline);
      const ms = performance.now() - t0;
      if (opts.until ? opts.until() : code === 0) resolve({ ms, stderr });
      else reject(new Error(`${cmd} failed (${code ?? signal}): ${stderr.slice(-2000)}`));
    });
  });
}

function findFile(dir: string, name: string): boolean {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory() ? findFile(p, name) : entry.name === name) return true;
  }
  return false;
}

type Client = { label: string; run: (pebble: Pebble) => Promise<{ ms: number; stderr: string }> };

function clients(): Client[] {
  const list: Client[] = [];
  const issueBuilt = existsSync(path.join(repoRoot, 'dist', 'main', 'cli', 'issue.js'))
    && !readFileSync(path.join(repoRoot, 'dist', 'main', 'cli', 'issue.js'), 'utf8').includes('not built yet');
  if (issueBuilt) {
    list.push({
      label: 'homeport issue (cold CLI)',
      run: (p) => {
        const dir = path.join(scratch, `cli-${seq}`);
        return timed(process.execPath, [cliPath, 'issue', uniqueName('cli'), '--data-dir', dir, '--ca', p.directoryUrl, '--ca-root', p.caRootFile,
          '--accept-tos', '--email', 'bench@example.test', '--challenge', 'http-01', '--http-port', String(p.httpPort)], { env: { HOMEPORT_DATA_DIR: dir } });
      },
    });
  }
  list.push({
    label: 'homeport issuer script (cold)',
    run: (p) => {
      const dir = path.join(scratch, `script-${seq}`);
      mkdirSync(dir, { recursive: true });
      return timed(process.execPath, [path.join(repoRoot, 'dist', 'test', 'bench', 'acme-cold.js'), p.directoryUrl, p.caRootFile, String(p.httpPort), dir, uniqueName('script')]);
    },
  });
  list.push({
    label: 'caddy',
    run: (p) => {
      requireTool('caddy');
      const dir = path.join(scratch, `caddy-${seq}`);
      const name = uniqueName('caddy');
      mkdirSync(dir, { recursive: true });
      const conf = path.join(dir, 'Caddyfile');
      return freePort().then((httpsPort) => {
        writeFileSync(conf, `{
  admin off
  storage file_system ${dir}/storage
  http_port ${p.httpPort}
  https_port ${httpsPort}
  skip_install_trust
  ocsp_stapling off
}
${name} {
  tls {
    issuer acme {
      dir ${p.directoryUrl}
      trusted_roots ${p.caRootFile}
      email bench@example.test
      disable_tlsalpn_challenge
    }
  }
  respond "ok"
}
`);
        return timed('caddy', ['run', '--config', conf, '--adapter', 'caddyfile'], {
          env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
          until: () => findFile(path.join(dir, 'storage', 'certificates'), `${name}.crt`),
        });
      });
    },
  });
  list.push({
    label: 'certbot',
    run: (p) => {
      requireTool('certbot');
      const dir = path.join(scratch, `certbot-${seq}`);
      return timed('certbot', ['certonly', '--standalone', '--non-interactive', '--agree-tos', '-m', 'bench@example.test', '--server', p.directoryUrl,
        '--http-01-port', String(p.httpPort), '--http-01-address', '127.0.0.1', '--config-dir', `${dir}/config`, '--work-dir', `${dir}/work`,
        '--logs-dir', `${dir}/logs`, '--key-type', 'ecdsa', '--no-random-sleep-on-renew', '-d', uniqueName('certbot')], { env: { REQUESTS_CA_BUNDLE: p.caRootFile } });
    },
  });
  list.push({
    label: 'lego',
    run: (p) => {
      requireTool('lego');
      const dir = path.join(scratch, `lego-${seq}`);
      return timed('lego', ['--server', p.directoryUrl, '--email', 'bench@example.test', '--accept-tos', '--http', '--http.port', `127.0.0.1:${p.httpPort}`,
        '--key-type', 'ec256', '--path', dir, '--domains', uniqueName('lego'), 'run'], { env: { LEGO_CA_CERTIFICATES: p.caRootFile } });
    },
  });
  return list;
}

async function main(): Promise<void> {
  const pebble = await startPebble();
  const root = new X509Certificate(await pebble.issuingRootPem());
  try {
    // (a) cold, one client at a time (they share Pebble's http-01 port).
    const cold: { label: string; ms: number }[] = [];
    let breakdown = '';
    for (const c of clients()) {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await c.run(pebble);
        times.push(r.ms);
        if (c.label.includes('script')) breakdown = r.stderr.trim().split('\n').pop() ?? '';
      }
      cold.push({ label: c.label, ms: median(times) });
      console.log(`cold  ${c.label.padEnd(30)} median ${median(times).toFixed(0).padStart(5)} ms  (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`);
    }
    const ours = cold[0];
    console.log(`\n(a) cold ratios, ${ours.label} vs peers (< 1.0 = faster):`);
    for (const peer of cold.filter((c) => !c.label.startsWith('homeport'))) {
      console.log(`    vs ${peer.label.padEnd(8)} ${(ours.ms / peer.ms).toFixed(2)}  (${ours.ms.toFixed(0)} ms / ${peer.ms.toFixed(0)} ms)`);
    }
    if (breakdown) console.log(`    cold script phases (ms since process start): ${breakdown}`);

    // (b) and (c): one warm issuer.
    const issuer = new AcmeIssuer({ dataDir: path.join(scratch, 'warm'), cas: [{ ca: pebble.directoryUrl, caRoot: pebble.caRootFile }], acceptTos: true });
    const listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: pebble.httpPort, host: '127.0.0.1' });
    try {
      await issuer.issue({ names: [uniqueName('warmup')], keyType: 'ec256', challenge: 'http-01' });
      const warm: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        await issuer.issue({ names: [uniqueName('warm')], keyType: 'ec256', challenge: 'http-01' });
        warm.push(performance.now() - t0);
      }
      console.log(`\n(b) warm issuer, median of 20: ${median(warm).toFixed(1)} ms (goal ≤ 100 ms: ratio ${(median(warm) / 100).toFixed(2)}; min ${Math.min(...warm).toFixed(1)}, max ${Math.max(...warm).toFixed(1)})`);

      const names = Array.from({ length: 20 }, () => uniqueName('concurrent'));
      const t0 = performance.now();
      const certs = await Promise.all(names.map((n) => issuer.issue({ names: [n], keyType: 'ec256', challenge: 'http-01' })));
      const wall = performance.now() - t0;
      const valid = certs.filter((c, i) => {
        const leaf = new X509Certificate(c.certPem);
        const inter = new X509Certificate(c.chainPem);
        return leaf.checkHost(names[i]) && leaf.verify(inter.publicKey) && inter.verify(root.publicKey);
      }).length;
      console.log(`(c) 20 concurrent certificates: ${wall.toFixed(0)} ms wall, ${valid}/20 valid (goal < 2000 ms: ratio ${(wall / 2000).toFixed(2)})`);
    } finally {
      issuer.close();
      await listeners.close();
    }
  } finally {
    await pebble.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
