import { Command, InvalidArgumentError, Option } from 'commander';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Options that several commands share, declared once so they read the same everywhere.
 */
export interface DataDirOptions {
  dataDir: string;
}

export interface CaOptions {
  email?: string;
  ca: string[];
  caRoot?: string;
  eabKid?: string;
  eabHmacKey?: string;
  acceptTos?: boolean;
}

export interface ListenerOptions {
  httpPort: number;
  httpsPort: number;
}

export function defaultDataDir(): string {
  if (process.env.HOMEPORT_DATA_DIR) return process.env.HOMEPORT_DATA_DIR;
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? os.homedir(), 'Homeport');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'Homeport');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'homeport');
}

/*
 * Option parsers check a value as config.json's schema will, so a mistyped flag is a usage
 * error before anything is saved (`issue` saves them) or asked. Their message is the "Fix:"
 * of that error's line (cli.ts), so it says what to give.
 */
function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('Give a port number from 0 to 65535.');
  return n;
}

/** config.json's schema module, loaded when a flag is checked, not when the CLI starts. */
export function schema(): typeof import('../engine/config/schema') {
  return require('../engine/config/schema') as typeof import('../engine/config/schema');
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

function email(value: string): string {
  if (!schema().ConfigSchema.shape.email.safeParse(value).success) throw new InvalidArgumentError('Give an e-mail address like you@example.com.');
  return value;
}

function cas(value: string, previous: string[] | undefined): string[] {
  const list = collect(value, previous);
  for (const ca of list) {
    const err = schema().caError(ca);
    if (err) throw new InvalidArgumentError(err.fix ?? err.message);
  }
  return list;
}

function resolver(value: string): string {
  const { isHostPort, HOST_PORT_RULE } = schema();
  if (!isHostPort(value)) throw new InvalidArgumentError(`Give ${HOST_PORT_RULE}.`);
  return value;
}

/** For --public-ip: this host's public addresses, repeatable or comma-separated. */
export function publicIps(value: string, previous: string[] | undefined): string[] {
  const list = collect(value, previous);
  if (!schema().ConfigSchema.shape.publicIps.safeParse(list).success) {
    throw new InvalidArgumentError('Give IPv4 or IPv6 addresses, e.g. 203.0.113.7 or 2001:db8::7.');
  }
  return list;
}

export function addDataDirOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--data-dir <dir>', 'where Homeport keeps config, accounts and certificates (env HOMEPORT_DATA_DIR)').default(
      defaultDataDir(),
    ),
  );
}

export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print the result as JSON');
}

export function addCaOptions(cmd: Command): Command {
  return cmd
    .option('--email <address>', 'contact e-mail for the ACME account', email)
    .option(
      '--ca <preset|url>',
      'CA to use: letsencrypt, letsencrypt-staging, zerossl, google, buypass or a directory URL; repeat for fallbacks in order',
      cas,
    )
    .option('--ca-root <pem>', "PEM file of a private CA's root, to trust its directory (step-ca, Pebble)")
    .option('--eab-kid <kid>', 'External Account Binding key id (ZeroSSL, Google)')
    .option('--eab-hmac-key <key>', 'External Account Binding HMAC key, base64url')
    .option('--accept-tos', "accept the CA's terms of service");
}

export function addListenerOptions(cmd: Command): Command {
  return cmd
    .option('--http-port <port>', 'port of the HTTP listener (http-01 challenges, redirects)', port, 80)
    .option('--https-port <port>', 'port of the HTTPS listener (tls-alpn-01, the proxy)', port, 443);
}

export function addResolverOption(cmd: Command): Command {
  return cmd.option('--resolver <host:port>', 'DNS server to ask instead of the system resolver', resolver);
}
