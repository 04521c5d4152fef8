import type { Command } from 'commander';
import type { CaOptions, DataDirOptions } from './options';
import type { EngineOptions } from '../engine/engine';

/**
 * Turns the shared CLI options into engine options. Only flags the user actually typed
 * override config.json (commander's defaults, such as port 80, do not).
 */
export interface EngineCliOptions extends DataDirOptions, CaOptions {
  httpPort?: number;
  httpsPort?: number;
  resolver?: string;
  json?: boolean;
}

export function engineOptions(opts: EngineCliOptions, cmd: Command): EngineOptions {
  const typed = (key: string) => ['cli', 'env'].includes(cmd.getOptionValueSource(key) ?? '');
  return {
    dataDir: opts.dataDir,
    overrides: {
      email: opts.email,
      acceptTos: opts.acceptTos || undefined,
      cas: opts.ca?.length ? opts.ca : undefined,
      caRoot: opts.caRoot,
      eab: opts.eabKid && opts.eabHmacKey ? { kid: opts.eabKid, hmacKey: opts.eabHmacKey } : undefined,
      httpPort: typed('httpPort') ? opts.httpPort : undefined,
      httpsPort: typed('httpsPort') ? opts.httpsPort : undefined,
      resolver: opts.resolver,
    },
  };
}

/** "in 3 min", "in 2 h", "in 12 days", "now" — for times the user waits for. */
export function relative(iso: string | number, now = Date.now()): string {
  const ms = (typeof iso === 'number' ? iso : Date.parse(iso)) - now;
  const abs = Math.abs(ms);
  const text =
    abs < 90_000 ? `${Math.round(abs / 1000)} s` : abs < 90 * 60_000 ? `${Math.round(abs / 60_000)} min` : abs < 48 * 3_600_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} days`;
  if (abs < 1000) return 'now';
  return ms > 0 ? `in ${text}` : `${text} ago`;
}
