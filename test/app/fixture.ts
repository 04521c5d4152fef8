import { saveConfig } from '../../main/engine/config/file';
import { ConfigSchema } from '../../main/engine/config/schema';
import { filePrefsStore } from '../../main/api/prefs';
import { openRuntime, type Runtime } from '../../main/api/runtime';
import { startBind, type Bind } from '../helpers/bind';
import { startPebble, type Pebble } from '../helpers/pebble';
import { tmpDir } from '../helpers/tmp';

/**
 * The app's test world: a real Pebble (its challtestsrv answers 127.0.0.1 for every name, so
 * Pebble validates http-01 against our listener) and a real BIND serving example.com the way
 * the public internet would see it: names point at this host's public address, 203.0.113.10
 * (a documentation address; config.publicIps tells the pre-flight it is ours, so no probe
 * service is asked and nothing leaves loopback).
 */
export const PUBLIC_V4 = '203.0.113.10';

export interface AppWorld {
  pebble: Pebble;
  bind: Bind;
  stop(): Promise<void>;
}

export async function startAppWorld(): Promise<AppWorld> {
  const [pebble, bind] = await Promise.all([
    startPebble(),
    startBind({
      zones: [{ name: 'example.com', records: [`home IN A ${PUBLIC_V4}`, `www.home IN A ${PUBLIC_V4}`, `nas IN A ${PUBLIC_V4}`, 'nas IN AAAA 2001:db8::99'] }],
    }),
  ]);
  return {
    pebble,
    bind,
    stop: async () => {
      await Promise.all([pebble.stop(), bind.stop()]);
    },
  };
}

/**
 * A data directory whose config points at the world's CA, challenge ports and DNS. The log
 * list stays the shipped one: a running engine would otherwise fetch it from the internet.
 */
export async function worldDataDir(world: AppWorld, opts: { acceptTos?: boolean; email?: string | null; firstIssuanceMarginSeconds?: number } = {}): Promise<string> {
  const dataDir = tmpDir('homeport-app-');
  await saveConfig(
    dataDir,
    ConfigSchema.parse({
      ...(opts.email === null ? {} : { email: opts.email ?? 'ops@example.com' }),
      acceptTos: opts.acceptTos ?? true,
      cas: [{ ca: world.pebble.directoryUrl, caRoot: world.pebble.caRootFile }],
      listeners: { httpPort: world.pebble.httpPort, httpsPort: world.pebble.tlsPort },
      resolver: world.bind.address,
      publicIps: [PUBLIC_V4],
      ct: { refreshLogList: false, ...(opts.firstIssuanceMarginSeconds !== undefined ? { firstIssuanceMarginSeconds: opts.firstIssuanceMarginSeconds } : {}) },
    }),
  );
  return dataDir;
}

export function openTestRuntime(
  dataDir: string,
  opts: { host?: 'headless' | 'electron'; serve?: boolean; setLaunchAtLogin?: (on: boolean) => boolean } = {},
): Promise<Runtime> {
  return openRuntime({
    dataDir,
    host: opts.host ?? 'headless',
    prefs: filePrefsStore(dataDir),
    serve: opts.serve ?? false,
    ...(opts.setLaunchAtLogin ? { setLaunchAtLogin: opts.setLaunchAtLogin } : {}),
  });
}
