import type { DnsProvider } from '../../main/engine/acme/dns-provider';
import type { Pebble } from './pebble';

/**
 * A dns-01 provider backed by pebble-challtestsrv's management API, for tests. challtestsrv
 * can only clear every TXT value of a name at once, so this keeps the values it set and puts
 * the others back after a removal (a wildcard and its base name share one TXT name).
 */
export function challtestsrvDnsProvider(pebble: Pebble): DnsProvider & { calls: string[] } {
  const values = new Map<string, string[]>();
  const calls: string[] = [];
  return {
    id: 'challtestsrv',
    calls,
    async setTxt(fqdn, value) {
      calls.push(`set ${fqdn}`);
      values.set(fqdn, [...(values.get(fqdn) ?? []), value]);
      await pebble.challtestsrv('set-txt', { host: `${fqdn}.`, value });
    },
    async removeTxt(fqdn, value) {
      calls.push(`remove ${fqdn}`);
      const rest = (values.get(fqdn) ?? []).filter((v) => v !== value);
      values.set(fqdn, rest);
      await pebble.challtestsrv('clear-txt', { host: `${fqdn}.` });
      for (const v of rest) await pebble.challtestsrv('set-txt', { host: `${fqdn}.`, value: v });
    },
  };
}
