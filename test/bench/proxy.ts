/**
 * Reverse proxy benchmark: Homeport vs nginx vs caddy, same certificate, same upstream, same
 * machine, same run. Not a test: it prints figures and ratios.
 *
 *   node dist/test/bench/proxy.js [--duration 8] [--connections 50] [--workers N]
 *
 * Each proxy runs as it would in production: nginx with one worker per CPU, caddy with its
 * defaults, Homeport with one process (its default) and with `--workers N` proxy processes
 * (default: one per CPU, `homeport serve --workers auto`).
 *
 * The upstream is a single-worker nginx answering 1 KiB; each proxy terminates TLS on
 * loopback and forwards to it with keep-alive. Each figure is the better of two runs after a
 * warm-up of both kinds of traffic. wrk measures HTTP/1.1 keep-alive throughput and, with
 * "Connection: close", TLS handshakes per second (wrk resumes a session whenever the server
 * hands out tickets). Memory is the proxy's RSS and PSS (all its processes) while 1,000 TLS
 * connections are open.
 *
 * wrk busy-polls while a handshake is in flight (it waits for "writable", which a connecting
 * socket always is), so its CPU per connection grows with the server's handshake latency:
 * about 240 µs against nginx, 680-810 µs against a bare Node https server. On a machine it
 * shares with the proxies, a slower answer therefore also costs the proxy CPU time wrk takes.
 * The proxy's own CPU per handshake does not depend on the client, which is why it is
 * printed, and compared, too.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { freePort, waitForPort } from '../helpers/ports';
import { requireTool } from '../helpers/tools';
import { CertificateTable } from '../../main/engine/proxy/cert-source';
import { ProxyCluster, BroadcastChallengeStore } from '../../main/engine/proxy/cluster';
import { Proxy } from '../../main/engine/proxy/proxy';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

if (args[0] === '--serve') {
  void serve(JSON.parse(readFileSync(args[1]!, 'utf8')));
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

interface ServeConfig {
  port: number;
  upstream: string;
  certFile: string;
  keyFile: string;
  workers: number;
}

/** The Homeport side, in its own process tree like the peers. */
async function serve(c: ServeConfig): Promise<void> {
  const table = new CertificateTable();
  table.activate({ id: 'localhost', certPem: readFileSync(c.certFile, 'utf8'), chainPem: '', keyPem: readFileSync(c.keyFile, 'utf8') });
  const routes = [{ host: 'localhost', upstreams: [c.upstream] }];
  const settings = { listen: ['127.0.0.1'] };
  const httpPort = await freePort();
  if (c.workers > 1) {
    const p = new ProxyCluster({ workers: c.workers, routes, settings, httpPort, httpsPort: c.port, certificates: table, challenges: new BroadcastChallengeStore() });
    await p.start();
  } else {
    await new Proxy({ routes, settings, httpPort, httpsPort: c.port, certificates: table }).start();
  }
  process.send?.('ready');
}

interface Peer {
  name: string;
  port: number;
  child: ChildProcess;
}

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  /** CPU time of the proxy (all its processes) per request, µs: steadier than req/s on a shared machine. */
  cpuUs: number;
}

async function main(): Promise<void> {
  for (const t of ['nginx', 'caddy', 'wrk', 'openssl']) requireTool(t);
  const duration = opt('duration', 8);
  const connections = opt('connections', 50);
  const workers = opt('workers', os.availableParallelism());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'homeport-bench-'));
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('exit', cleanup);
  process.on('SIGINT', () => process.exit(130));

  // One certificate for every proxy: EC P-256, the kind Homeport issues by default.
  const openssl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'pipe' });
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost');

  const body = 'x'.repeat(1023) + '\n';
  const upPort = await freePort();
  const upstream = await startNginx(dir, 'upstream', children, `
    worker_processes 1;
    events { worker_connections 4096; }
    http {
      access_log off;
      keepalive_requests 1000000;
      server {
        listen 127.0.0.1:${upPort};
        location / { default_type text/plain; return 200 "${body.replace(/\n$/, '')}"; }
      }
    }`, upPort);
  void upstream;

  const peers: Peer[] = [];
  const nginxPort = await freePort();
  peers.push(await startNginx(dir, 'nginx', children, `
    worker_processes auto;
    events { worker_connections 8192; }
    http {
      access_log off;
      upstream up { server 127.0.0.1:${upPort}; keepalive 128; }
      server {
        listen 127.0.0.1:${nginxPort} ssl http2;
        ssl_certificate ${certFile};
        ssl_certificate_key ${keyFile};
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
      }
    }`, nginxPort));

  const caddyPort = await freePort();
  const caddyConfig = {
    admin: { disabled: true },
    logging: { logs: { default: { level: 'ERROR' } } },
    apps: {
      http: {
        servers: {
          bench: {
            listen: [`127.0.0.1:${caddyPort}`],
            automatic_https: { disable: true },
            tls_connection_policies: [{}],
            routes: [{ handle: [{ handler: 'reverse_proxy', upstreams: [{ dial: `127.0.0.1:${upPort}` }] }] }],
          },
        },
      },
      tls: { certificates: { load_files: [{ certificate: certFile, key: keyFile }] }, automation: { policies: [{ on_demand: false }] } },
    },
  };
  writeFileSync(path.join(dir, 'caddy.json'), JSON.stringify(caddyConfig));
  const caddy = spawn('caddy', ['run', '--config', path.join(dir, 'caddy.json')], {
    env: { ...process.env, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, HOME: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(caddy);
  await waitForPort(caddyPort);
  peers.push({ name: 'caddy', port: caddyPort, child: caddy });

  for (const [name, n] of [['homeport', 1], [`homeport ×${workers}`, workers]] as const) {
    if (name !== 'homeport' && n === 1) continue;
    const hpPort = await freePort();
    const serveFile = path.join(dir, `homeport-${n}.json`);
    writeFileSync(serveFile, JSON.stringify({ port: hpPort, upstream: `http://127.0.0.1:${upPort}`, certFile, keyFile, workers: n } satisfies ServeConfig));
    const hp = spawn(process.execPath, [__filename, '--serve', serveFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(hp);
    await new Promise<void>((resolve, reject) => {
      hp.once('message', () => resolve());
      hp.once('exit', (code) => reject(new Error(`homeport exited with ${code}`)));
    });
    peers.push({ name, port: hpPort, child: hp });
  }

  console.log(`proxy bench: ${os.cpus().length} CPUs (shared with wrk and the upstream), wrk ${connections} connections, ${duration} s per run, 1 KiB responses`);
  const results: Record<string, { ka: WrkResult; hs: WrkResult; mem: Memory }> = {};
  for (const p of peers) {
    const url = `https://localhost:${p.port}/`;
    // Warm-up of both kinds of traffic: JIT (connection set-up is other code than requests), pools.
    await wrk(url, 2, connections, 3, []);
    await wrk(url, 2, connections, 3, ['-H', 'Connection: close']);
    // Best of two runs each: other work on a shared machine only ever makes a run slower.
    const best = (a: WrkResult, b: WrkResult) => (b.rps > a.rps ? b : a);
    const measured = async (extra: string[]) => {
      const before = treeCpuMs(p.child.pid!);
      const r = await wrk(url, 2, connections, duration, extra);
      r.cpuUs = r.requests ? ((treeCpuMs(p.child.pid!) - before) * 1000) / r.requests : NaN;
      return r;
    };
    const ka = best(await measured([]), await measured([]));
    const close = ['-H', 'Connection: close'];
    const hs = best(await measured(close), await measured(close));
    const mem = await memoryAt(p, 1000);
    results[p.name] = { ka, hs, mem };
    console.log(
      `  ${p.name}: ${ka.rps.toFixed(0)} req/s (p50 ${ka.p50.toFixed(2)} ms, p99 ${ka.p99.toFixed(2)} ms, ${ka.cpuUs.toFixed(0)} µs CPU each), ` +
        `${hs.rps.toFixed(0)} handshakes/s (${hs.cpuUs.toFixed(0)} µs CPU each), ${mem.rss.toFixed(0)} MB RSS (${mem.pss.toFixed(0)} MB PSS) at 1,000 connections`,
    );
  }
  const row = (name: string) => {
    const r = results[name]!;
    return `| ${name} | ${r.ka.rps.toFixed(0)} | ${r.ka.p50.toFixed(2)} | ${r.ka.p99.toFixed(2)} | ${r.ka.cpuUs.toFixed(0)} | ${r.hs.rps.toFixed(0)} | ${r.hs.cpuUs.toFixed(0)} | ${r.mem.rss.toFixed(0)} | ${r.mem.pss.toFixed(0)} |`;
  };
  console.log('\n| proxy | req/s (keep-alive) | p50 ms | p99 ms | µs CPU/req | handshakes/s | µs CPU/handshake | MB RSS at 1,000 conns | MB PSS at 1,000 conns |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const p of peers) console.log(row(p.name));
  const ratio = (a: number, b: number) => (b ? (a / b).toFixed(2) : 'n/a');
  const c = results.caddy!;
  const x = results.nginx!;
  for (const name of Object.keys(results).filter((n) => n.startsWith('homeport'))) {
    const h = results[name]!;
    console.log(`\n${name}/caddy: req/s ${ratio(h.ka.rps, c.ka.rps)}×, p99 ${ratio(h.ka.p99, c.ka.p99)}×, handshakes ${ratio(h.hs.rps, c.hs.rps)}×`);
    console.log(`${name}/nginx: req/s ${ratio(h.ka.rps, x.ka.rps)}×, p99 ${ratio(h.ka.p99, x.ka.p99)}×, handshakes ${ratio(h.hs.rps, x.hs.rps)}× (CPU per handshake: nginx's is ${ratio(x.hs.cpuUs, h.hs.cpuUs)}× ${name}'s)`);
    console.log(`${name} goals: req/s ≥1.0× caddy ${h.ka.rps >= c.ka.rps ? 'met' : 'NOT met'}; p99 ≤ caddy ${h.ka.p99 <= c.ka.p99 ? 'met' : 'NOT met'}; handshakes ≥0.8× nginx ${h.hs.rps >= 0.8 * x.hs.rps ? 'met' : 'NOT met'}; <150 MB ${h.mem.rss < 150 ? 'met' : h.mem.pss < 150 ? 'met in PSS only' : 'NOT met'}`);
  }
  for (const e of Object.entries(results)) if (e[1].ka.errors || e[1].hs.errors) console.log(`note: ${e[0]} had socket errors (${e[1].ka.errors} keep-alive, ${e[1].hs.errors} handshake)`);
  cleanup();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

async function startNginx(dir: string, name: string, children: ChildProcess[], conf: string, port: number): Promise<Peer> {
  const prefix = path.join(dir, name);
  mkdirSync(path.join(prefix, 'logs'), { recursive: true });
  const file = path.join(prefix, 'nginx.conf');
  const full = `daemon off; master_process on; pid ${prefix}/nginx.pid; error_log ${prefix}/logs/error.log error; user root;\n${conf.replace(
    'http {',
    `http { client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;`,
  )}`;
  writeFileSync(file, full);
  const child = spawn('nginx', ['-p', prefix, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.once('exit', (code) => code && console.error(`nginx ${name} exited with ${code}: ${err}`));
  await waitForPort(port);
  return { name, port, child };
}

function wrk(url: string, threads: number, connections: number, seconds: number, extra: string[]): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', ...extra, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => {
      const num = (re: RegExp) => Number(out.match(re)?.[1] ?? NaN);
      const ms = (re: RegExp) => {
        const m = out.match(re);
        if (!m) return NaN;
        const v = Number(m[1]);
        return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
      };
      const errs = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
      const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
      resolve({
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        p50: ms(/50%\s+([\d.]+)(us|ms|s)/),
        p99: ms(/99%\s+([\d.]+)(us|ms|s)/),
        errors: (errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (Number.isNaN(non2xx) ? 0 : non2xx),
        requests: num(/(\d+) requests in/),
        cpuUs: NaN,
      });
    });
  });
}

/** A process and its descendants. */
function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      const kids = readFileSync(`/proc/${pids[i]}/task/${pids[i]}/children`, 'utf8').trim();
      if (kids) pids.push(...kids.split(/\s+/).map(Number));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** User + system CPU time of a process tree, ms (/proc stat fields 14 and 15, in clock ticks of 10 ms). */
function treeCpuMs(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* gone */
    }
  }
  return ticks * 10;
}

/**
 * Memory of a process and its children, in MB: the sum of their RSS, and of their PSS
 * (proportional: pages shared between processes, like the Node or nginx binary, counted
 * once in total). RSS overstates what a multi-process proxy costs the machine.
 */
function treeMemMb(pid: number): Memory {
  const pids = processTree(pid);
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      const t = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(t.match(/^Rss:\s+(\d+)/m)?.[1] ?? 0);
      pss += Number(t.match(/^Pss:\s+(\d+)/m)?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}

interface Memory {
  rss: number;
  pss: number;
}

/** Opens `n` TLS connections, makes one request on each, and reads the proxy's memory while they stay open. */
async function memoryAt(p: Peer, n: number): Promise<Memory> {
  const sockets: tls.TLSSocket[] = [];
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: p.port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
        s.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      });
      let got = 0;
      s.on('data', (d: Buffer) => {
        got += d.length;
        if (got >= 1024) resolve();
      });
      s.on('error', reject);
      sockets.push(s);
    });
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, open));
  await new Promise((r) => setTimeout(r, 500));
  const mb = treeMemMb(p.child.pid!);
  for (const s of sockets) s.destroy();
  return mb;
}
