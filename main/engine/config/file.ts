import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import { HomeportError } from '../errors';
import { writeFileAtomic } from '../atomic-file';
import { withLock } from '../certs/lock';
import { fsError } from '../certs/fs-error';
import { CONFIG_VERSION, ConfigSchema, type Config } from './schema';

/**
 * Reading and writing <data>/config.json. A missing file means defaults; a broken or newer
 * file is reported plainly and never overwritten, so nothing the user wrote is lost.
 */
export function configPath(dataDir: string): string {
  return path.join(dataDir, 'config.json');
}

export function defaultConfig(): Config {
  return ConfigSchema.parse({});
}

export async function loadConfig(dataDir: string): Promise<Config> {
  const file = configPath(dataDir);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return defaultConfig();
    if (code === 'ENOTDIR') throw fsError(e, dataDir);
    throw new HomeportError('config.unreadable', `Cannot read ${file} (${code ?? String(e)}).`, {
      fix: `Check that this user may read ${file}.`,
      cause: e,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new HomeportError('config.not-json', `${file} is not valid JSON (${(e as Error).message}).`, {
      fix: `Correct the JSON, or move the file away to start with defaults.`,
      cause: e,
    });
  }
  return parseConfig(raw, file);
}

/** Validates a config object; errors name the field and what to put there. */
export function parseConfig(raw: unknown, where = 'config'): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new HomeportError('config.invalid', `${where} must hold a JSON object.`, {
      fix: 'Correct the file, or move it away to start with defaults.',
    });
  }
  const obj = { ...(raw as Record<string, unknown>) };
  // Files from before versioning carry no version: they are version 1.
  if (obj.version === undefined) obj.version = CONFIG_VERSION;
  if (typeof obj.version === 'number' && obj.version > CONFIG_VERSION) {
    throw new HomeportError(
      'config.newer',
      `${where} was written by a newer Homeport (config version ${obj.version}; this one knows ${CONFIG_VERSION}).`,
      { fix: 'Update Homeport, or use the data directory that this version wrote.' },
    );
  }
  const result = ConfigSchema.safeParse(obj);
  if (!result.success) throw configError(result.error, where);
  return result.data;
}

export function configError(error: z.ZodError, where: string): HomeportError {
  const first = error.issues[0]!;
  const field = formatPath(first.path);
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more problem${error.issues.length > 2 ? 's' : ''})` : '';
  return new HomeportError('config.invalid', `${where}: ${field || 'the config'} ${first.message}${more}.`, {
    fix: `Correct ${field || 'the file'} in ${where}.`,
    details: { issues: error.issues.map((i) => ({ field: formatPath(i.path), message: i.message })) },
  });
}

function formatPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

export async function saveConfig(dataDir: string, config: Config): Promise<void> {
  const checked = parseConfig(config, 'the new config');
  try {
    await writeFileAtomic(configPath(dataDir), JSON.stringify(checked, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    throw fsError(e, dataDir);
  }
}

/**
 * Read-modify-write under a lock, so `homeport route add` and `homeport issue` running at the
 * same time both land their change.
 */
export async function updateConfig(dataDir: string, change: (config: Config) => Config | void): Promise<Config> {
  return lockedUpdate(dataDir, change).catch((e: unknown) => {
    throw fsError(e, dataDir);
  });
}

function lockedUpdate(dataDir: string, change: (config: Config) => Config | void): Promise<Config> {
  return withLock(path.join(dataDir, 'config.lock'), { what: 'the config file', waitMs: 10_000 }, async () => {
    const config = await loadConfig(dataDir);
    const next = change(config) ?? config;
    await saveConfig(dataDir, next);
    return parseConfig(next);
  });
}
