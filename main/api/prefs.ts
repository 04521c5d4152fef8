import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../engine/atomic-file';

/**
 * The app's own preferences (appearance, which notifications, start at login), kept apart
 * from the engine's config.json. <data>/app-settings.json: the Electron shell reads and
 * writes it through electron-store, the headless host as a plain atomic JSON file; both
 * see the same keys.
 */
export const PrefsSchema = z.object({
  theme: z.enum(['system', 'light', 'dark']).catch('system'),
  notify: z
    .object({ ctReady: z.boolean().catch(true), failed: z.boolean().catch(true), drift: z.boolean().catch(true) })
    .catch({ ctReady: true, failed: true, drift: true }),
  launchAtLogin: z.boolean().catch(false),
});

export type Prefs = z.infer<typeof PrefsSchema>;

export const PREFS_FILE = 'app-settings';

export const DEFAULT_PREFS: Prefs = { theme: 'system', notify: { ctReady: true, failed: true, drift: true }, launchAtLogin: false };

export interface PrefsStore {
  get(): Promise<Prefs>;
  set(prefs: Prefs): Promise<void>;
}

/** The headless host's store. A damaged file falls back to defaults field by field. */
export function filePrefsStore(dataDir: string): PrefsStore {
  const file = path.join(dataDir, `${PREFS_FILE}.json`);
  return {
    async get() {
      let raw: unknown = {};
      try {
        raw = JSON.parse(await fs.readFile(file, 'utf8'));
      } catch {
        // Missing or unreadable: defaults. The next save writes a good file.
      }
      return PrefsSchema.parse({ ...DEFAULT_PREFS, ...(typeof raw === 'object' && raw ? raw : {}) });
    },
    async set(prefs) {
      await writeFileAtomic(file, JSON.stringify(PrefsSchema.parse(prefs), null, 2) + '\n', { mode: 0o600 });
    },
  };
}
