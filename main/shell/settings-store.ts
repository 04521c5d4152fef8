import type { Prefs, PrefsStore } from '../api/prefs';
import { DEFAULT_PREFS, PREFS_FILE, PrefsSchema } from '../api/prefs';

/**
 * The app's preferences through electron-store, in the data directory next to config.json.
 * electron-store 12 is ESM-only, so it is loaded with a dynamic import() (TypeScript keeps
 * import() as is for node16 CommonJS output, and Electron's Node can load ESM that way).
 */
export async function electronPrefsStore(dataDir: string): Promise<PrefsStore> {
  const { default: Store } = await import('electron-store');
  const store = new Store<Prefs>({ name: PREFS_FILE, cwd: dataDir, defaults: DEFAULT_PREFS, clearInvalidConfig: true, configFileMode: 0o600 });
  return {
    async get() {
      return PrefsSchema.parse({ ...DEFAULT_PREFS, ...store.store });
    },
    async set(prefs) {
      store.store = PrefsSchema.parse(prefs);
    },
  };
}
