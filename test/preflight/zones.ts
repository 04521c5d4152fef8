import { startBind, Bind } from '../helpers/bind';
import { ManualClock } from '../../main/engine/clock';
import type { DnsContext } from '../../main/engine/preflight/lookup';
import { WireResolver } from '../../main/engine/preflight/resolver';

/**
 * The pre-flight test world: two real BIND servers on loopback.
 * - `parent` is authoritative for example.com and example.net and also a recursive resolver;
 *   example.com delegates deleg.example.com to ns.deleg.example.com (glue 127.0.0.3, which
 *   tests map to `child`), dead.example.com to 127.0.0.4, where nothing listens, and
 *   lame.example.com to 127.0.0.5, mapped to `child`, which refuses it (a lame delegation).
 * - `child` is authoritative for deleg.example.com only.
 * This host's public addresses are 203.0.113.10 and 2001:db8::10 (documentation ranges).
 */
export const HOST_V4 = '203.0.113.10';
export const HOST_V6 = '2001:db8::10';
export const OTHER_ACCOUNT = 'https://acme-v02.api.letsencrypt.org/acme/acct/12345';

export interface World {
  parent: Bind;
  child: Bind;
  dns: DnsContext;
  stop(): Promise<void>;
}

/** `updateKey`: example.com accepts TXT updates (RFC 2136) signed with the key `homeport-acme`. */
export async function startWorld(opts: { updateKey?: boolean } = {}): Promise<World> {
  const child = await startBind({
    zones: [{ name: 'deleg.example.com', records: [`www IN A ${HOST_V4}`] }],
  });
  const parent = await startBind({
    recursion: true,
    keys: opts.updateKey ? [{ name: 'homeport-acme' }] : [],
    forwardZones: [{ name: 'deleg.example.com', address: child.address }],
    zones: [
      {
        name: 'example.com',
        updateKeys: opts.updateKey ? ['homeport-acme'] : [],
        records: [
          '@ IN CAA 0 issue "letsencrypt.org"',
          `www IN A ${HOST_V4}`,
          `www IN AAAA ${HOST_V6}`,
          `v6bad IN A ${HOST_V4}`,
          'v6bad IN AAAA 2001:db8::99',
          `otherca IN A ${HOST_V4}`,
          'otherca IN CAA 0 issue "pki.goog"',
          `acct IN A ${HOST_V4}`,
          `acct IN CAA 0 issue "letsencrypt.org; accounturi=${OTHER_ACCOUNT}; validationmethods=dns-01"`,
          'alias IN CNAME hop.example.net.',
          'cf IN A 104.16.1.1',
          'lan IN A 192.168.1.10',
          `xn--bcher-kva IN A ${HOST_V4}`,
          'deleg IN NS ns.deleg.example.com.',
          'ns.deleg IN A 127.0.0.3',
          'dead IN NS ns.dead.example.com.',
          'ns.dead IN A 127.0.0.4',
          'lame IN NS ns.lame.example.com.',
          'ns.lame IN A 127.0.0.5',
        ],
      },
      {
        name: 'example.net',
        records: ['hop IN CNAME target.example.net.', `target IN A ${HOST_V4}`, 'target IN CAA 0 issue "sectigo.com"'],
      },
    ],
  });
  const at = { host: parent.host, port: parent.port };
  return {
    parent,
    child,
    stop: async () => {
      await parent.stop();
      await child.stop();
    },
    dns: {
      resolver: new WireResolver({ servers: [at], timeoutMs: 1500, attempts: 1 }),
      roots: [at],
      // 127.0.0.3 is the child; 127.0.0.5 is the child too, which does not hold lame.example.com.
      serverFor: (address) =>
        address === '127.0.0.3' || address === '127.0.0.5' ? { host: child.host, port: child.port } : { host: address, port: parent.port },
    },
  };
}

export function clock(): ManualClock {
  return new ManualClock(Date.UTC(2026, 0, 5, 12));
}
