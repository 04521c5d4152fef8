import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { freePort } from './ports';
import { requireTool } from './tools';

/**
 * A real BIND `named` on 127.0.0.1 serving test zones, started per test file: authoritative
 * (a resolver too with `recursion`), UDP and TCP on one free port, optional TSIG keys allowed
 * to update.
 * Usable for dns-01 (RFC 2136 updates, Pebble's -dnsserver) and for pre-flight checks
 * (zones with any records, several zones, delegations).
 */
export interface BindKey {
  name: string;
  /** BIND's algorithm name; hmac-sha256 by default. */
  algorithm?: 'hmac-sha1' | 'hmac-sha224' | 'hmac-sha256' | 'hmac-sha384' | 'hmac-sha512';
  /** Base64; random 32 bytes by default. */
  secret?: string;
}

export interface BindZone {
  /** e.g. `example.test` */
  name: string;
  /**
   * Zone file lines added after the SOA and NS (`ns1.<zone>` → 127.0.0.1), in zone file
   * syntax, e.g. `www IN A 127.0.0.1`, `@ IN CAA 0 issue "pebble"`, `sub IN NS ns.other.test.`.
   */
  records?: string[];
  /** Keys allowed to change TXT records anywhere in the zone. */
  updateKeys?: string[];
  /** Raw update-policy rules, used instead of updateKeys, e.g. `grant k name x.example.test. TXT`. */
  updatePolicy?: string[];
  /** SOA minimum / negative-caching TTL and the default TTL of records; 60 by default. */
  ttl?: number;
}

export interface BindOptions {
  zones: BindZone[];
  keys?: BindKey[];
  /** Log named's output to stderr (debugging). */
  verbose?: boolean;
  /**
   * Also act as a recursive resolver (pre-flight tests). Its outgoing queries go to the same
   * port as it listens on, so delegations to 127.0.0.x reach test servers (or nothing).
   */
  recursion?: boolean;
  /** Zones this server resolves by asking another one, `address` as host:port (recursion only). */
  forwardZones?: { name: string; address: string }[];
}

export interface Bind {
  host: string;
  port: number;
  /** `127.0.0.1:<port>`, for config `server` fields and Pebble's -dnsserver. */
  address: string;
  /** The keys as configured, secrets filled in. */
  keys: Record<string, Required<BindKey>>;
  /** The directory with named.conf and the zone files (journals appear here after updates). */
  dir: string;
  query(name: string, type: dnsPacket.RecordType): Promise<dnsPacket.DecodedPacket & { rcode: string }>;
  /** The TXT values at `name` (each record's strings joined), sorted. */
  txt(name: string): Promise<string[]>;
  stop(): Promise<void>;
}

function zoneFile(z: BindZone): string {
  const ttl = z.ttl ?? 60;
  return [
    `$ORIGIN ${z.name}.`,
    `$TTL ${ttl}`,
    `@ IN SOA ns1.${z.name}. hostmaster.${z.name}. 1 60 60 600 ${ttl}`,
    `@ IN NS ns1.${z.name}.`,
    'ns1 IN A 127.0.0.1',
    ...(z.records ?? []),
    '',
  ].join('\n');
}

function namedConf(
  dir: string,
  port: number,
  zones: BindZone[],
  keys: Required<BindKey>[],
  extra: Pick<BindOptions, 'recursion' | 'forwardZones'> = {},
): string {
  const lines = keys.map((k) => `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`);
  lines.push(
    // No control channel: its fixed port 953 would collide between parallel test files.
    'controls { };',
    'options {',
    `  directory "${dir}";`,
    `  pid-file "${path.join(dir, 'named.pid')}";`,
    `  session-keyfile "${path.join(dir, 'session.key')}";`,
    `  managed-keys-directory "${dir}";`,
    `  listen-on port ${port} { 127.0.0.1; };`,
    '  listen-on-v6 { none; };',
    ...(extra.recursion ? [`  port ${port};`, '  recursion yes;', '  allow-recursion { any; };'] : ['  recursion no;']),
    '  dnssec-validation no;',
    '  notify no;',
    '};',
  );
  for (const z of zones) {
    const policy = z.updatePolicy ?? (z.updateKeys ?? []).map((k) => `grant ${k} zonesub TXT`);
    lines.push(
      `zone "${z.name}" {`,
      '  type primary;',
      `  file "${path.join(dir, `${z.name}.zone`)}";`,
      ...(policy.length ? [`  update-policy { ${policy.map((p) => `${p};`).join(' ')} };`] : []),
      '};',
    );
  }
  // Root hints pointing at this server itself keep a resolver's priming queries on loopback.
  if (extra.recursion) lines.push(`zone "." { type hint; file "${path.join(dir, 'root.hint')}"; };`);
  for (const f of extra.forwardZones ?? []) {
    const [host, fport] = f.address.split(':');
    lines.push(`zone "${f.name}" { type forward; forward only; forwarders { ${host} port ${fport}; }; };`);
  }
  return lines.join('\n') + '\n';
}

/** One UDP query to host:port, the decoded answer plus its response code. */
export function queryDns(host: string, port: number, name: string, type: dnsPacket.RecordType, timeoutMs = 3000): Promise<dnsPacket.DecodedPacket & { rcode: string }> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const id = randomInt(0, 65536);
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no DNS answer from ${host}:${port} for ${name} ${type}`));
    }, timeoutMs);
    sock.on('message', (msg) => {
      const res = dnsPacket.decode(msg) as dnsPacket.DecodedPacket & { rcode: string };
      if (res.id !== id) return;
      clearTimeout(timer);
      sock.close();
      resolve(res);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.send(dnsPacket.encode({ type: 'query', id, questions: [{ type, name, class: 'IN' }] }), port, host);
  });
}

function appArmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

export async function startBind(opts: BindOptions): Promise<Bind> {
  const installed = requireTool('named', 'apt-get install -y bind9');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'homeport-bind-'));
  // Debian confines /usr/sbin/named with an AppArmor profile that forbids files under /tmp;
  // profiles attach by path, so where AppArmor is on, a copy of the binary runs unconfined.
  let named = installed;
  if (appArmorEnabled()) {
    named = path.join(dir, 'named');
    copyFileSync(installed, named);
  }
  const keys = (opts.keys ?? []).map((k) => ({
    name: k.name,
    algorithm: k.algorithm ?? 'hmac-sha256',
    secret: k.secret ?? randomBytes(32).toString('base64'),
  }));
  const port = await freePort();
  const conf = path.join(dir, 'named.conf');
  writeFileSync(conf, namedConf(dir, port, opts.zones, keys, opts));
  for (const z of opts.zones) writeFileSync(path.join(dir, `${z.name}.zone`), zoneFile(z));
  if (opts.recursion) writeFileSync(path.join(dir, 'root.hint'), '. 3600000 NS hints.invalid.\nhints.invalid. 3600000 A 127.0.0.1\n');

  // -g: foreground, log to stderr; -4: IPv4 only. named says "running" once every zone is loaded.
  const child = spawn(named, ['-g', '-4', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  let stopping = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`named did not start within 15 s:\n${log}`)), 15_000);
    child.stderr.on('data', (d: Buffer) => {
      if (opts.verbose) process.stderr.write(d);
      log = (log + d.toString()).slice(-8000);
      if (/\brunning\n/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!stopping) reject(new Error(`named exited with ${code}:\n${log}`));
    });
  }).catch((e) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });

  const stop = async () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const query = (name: string, type: dnsPacket.RecordType) => queryDns('127.0.0.1', port, name, type);
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    keys: Object.fromEntries(keys.map((k) => [k.name, k])),
    dir,
    query,
    async txt(name) {
      const res = await query(name, 'TXT');
      return res.answers!
        .filter((a): a is dnsPacket.TxtAnswer => a.type === 'TXT')
        .map((a) => (Array.isArray(a.data) ? a.data : [a.data]).map((s) => s.toString()).join(''))
        .sort();
    },
    stop,
  };
}
