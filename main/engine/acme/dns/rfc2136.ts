import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { type Clock, systemClock } from '../../clock';
import { HomeportError } from '../../errors';
import type { DnsProvider } from '../dns-provider';
import { type DnsServer, DnsTransportError, exchange, formatDnsServer } from '../../dns/transport';
import { TSIG_BADKEY, TSIG_BADSIG, TSIG_BADTIME, type TsigCheck, type TsigKey, signMessage, verifyResponse } from './tsig';
import {
  CLASS_IN,
  CLASS_NONE,
  OPCODE_UPDATE,
  TYPE_SOA,
  TYPE_TXT,
  decodeHeader,
  encodeHeader,
  encodeName,
  encodeRecord,
  encodeTxtRdata,
  rcodeOf,
  u16,
} from './wire';

export interface Rfc2136Options {
  /** The zone's primary server, which accepts the updates. */
  server: DnsServer;
  key: TsigKey;
  /** The zone to update; found with an SOA query to `server` when absent. */
  zone?: string;
  /** TTL of the records we add; short, as they live only for one validation. */
  ttl?: number;
  /** Use TCP for everything (some servers and firewalls only allow updates over TCP). */
  tcp?: boolean;
  timeoutMs?: number;
  clock?: Clock;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9, NOTZONE: 10 } as const;
const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN',
  7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE',
};

const normalize = (name: string): string => name.trim().replace(/\.$/, '').toLowerCase();
// Never the root zone: a resolver's root SOA for a made-up name is not a zone we may update.
const isWithin = (name: string, zone: string): boolean => zone !== '' && (name === zone || name.endsWith(`.${zone}`));

function describeSeconds(s: number): string {
  if (s < 120) return `${Math.round(s)} seconds`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  return `${Math.round(s / 3600)} hours`;
}

/**
 * dns-01 through RFC 2136 dynamic updates signed with TSIG: works with any BIND, Knot or
 * PowerDNS server that allows the key to change TXT records in the zone.
 */
export class Rfc2136Provider implements DnsProvider {
  readonly id = 'rfc2136';
  private readonly clock: Clock;
  private readonly zones = new Map<string, string>();

  constructor(private readonly opts: Rfc2136Options) {
    this.clock = opts.clock ?? systemClock;
  }

  private get where(): string {
    return formatDnsServer(this.opts.server);
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    await this.update(normalize(fqdn), value, 'add');
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    await this.update(normalize(fqdn), value, 'delete');
  }

  /** The zone that holds `fqdn` on the configured server. */
  async zoneFor(fqdn: string): Promise<string> {
    const name = normalize(fqdn);
    if (this.opts.zone !== undefined) {
      const zone = normalize(this.opts.zone);
      if (!isWithin(name, zone)) {
        throw new HomeportError('dns01.name-outside-zone', `The name ${name} is not inside the configured zone ${zone}.`, {
          fix: 'Correct the zone in the dns-01 settings, or leave it empty so Homeport finds the zone itself.',
        });
      }
      return zone;
    }
    const cached = this.zones.get(name);
    if (cached !== undefined) return cached;
    const zone = await this.findZone(name);
    this.zones.set(name, zone);
    return zone;
  }

  /**
   * Asks the server for the SOA of the name, then of each parent: an authoritative server
   * answers with the zone's SOA (in the answer or, for names below the apex, the authority
   * section) as soon as the name falls inside one of its zones.
   */
  private async findZone(name: string): Promise<string> {
    const labels = name.split('.');
    let lastRcode = RCODE.NOERROR as number;
    for (let i = 0; i < labels.length; i++) {
      const candidate = labels.slice(i).join('.');
      const query = dnsPacket.encode({ type: 'query', id: randomInt(0, 65536), flags: 0, questions: [{ type: 'SOA', name: candidate, class: 'IN' }] });
      const raw = await this.send(query);
      lastRcode = rcodeOf(decodeHeader(raw).flags);
      if (lastRcode !== RCODE.NOERROR && lastRcode !== RCODE.NXDOMAIN) continue;
      const res = dnsPacket.decode(raw);
      const soa = [...(res.answers ?? []), ...(res.authorities ?? [])].find((rr) => rr.type === 'SOA');
      if (soa && isWithin(name, normalize(soa.name))) return normalize(soa.name);
    }
    const refused = lastRcode === RCODE.REFUSED || lastRcode === RCODE.NOTAUTH;
    throw new HomeportError(
      'dns01.zone-not-found',
      `The DNS server at ${this.where} does not serve a zone that contains ${name}${refused ? ' (it refused to answer for it)' : ''}.`,
      { fix: `Point the dns-01 settings at the primary server of the zone that holds ${name}, or set the zone explicitly.` },
    );
  }

  private async send(message: Buffer): Promise<Buffer> {
    try {
      return await exchange(this.opts.server, message, { tcp: this.opts.tcp, timeoutMs: this.opts.timeoutMs });
    } catch (e) {
      if (!(e instanceof DnsTransportError)) throw e;
      throw new HomeportError('dns01.server-unreachable', e.message, {
        fix: 'Check the server address and port in the dns-01 settings, and that the server runs and accepts DNS over UDP and TCP from this machine.',
        cause: e,
      });
    }
  }

  private async update(fqdn: string, value: string, op: 'add' | 'delete'): Promise<void> {
    const zone = await this.zoneFor(fqdn);
    const message = Buffer.concat([
      encodeHeader({ id: randomInt(0, 65536), flags: OPCODE_UPDATE << 11, counts: [1, 0, 1, 0] }),
      encodeName(zone),
      u16(TYPE_SOA),
      u16(CLASS_IN),
      // RFC 2136 2.5.1 adds one record to the RRset; 2.5.4 (class NONE, TTL 0) deletes just that record.
      encodeRecord({
        name: fqdn,
        type: TYPE_TXT,
        klass: op === 'add' ? CLASS_IN : CLASS_NONE,
        ttl: op === 'add' ? (this.opts.ttl ?? 60) : 0,
        rdata: encodeTxtRdata(value),
      }),
    ]);
    const signed = signMessage(message, this.opts.key, this.clock.now());
    const response = await this.send(signed.message);
    const rcode = rcodeOf(decodeHeader(response).flags);
    const check = verifyResponse(response, signed.mac, this.opts.key, this.clock.now());
    this.judge(rcode, check, zone, fqdn);
  }

  /** Turns the response code and its TSIG into success or the one error a person can act on. */
  private judge(rcode: number, check: TsigCheck, zone: string, fqdn: string): void {
    const key = this.opts.key;
    const keyFix = `Use the key exactly as the server defines it: name '${key.name}', algorithm ${key.algorithm}, and its base64 secret.`;
    if (check.status === 'error' && check.error === TSIG_BADTIME) {
      const skew = check.serverTime === undefined ? '' : ` by about ${describeSeconds(Math.abs(this.clock.now() / 1000 - check.serverTime))}`;
      throw new HomeportError('dns01.clock-skew', `The DNS server at ${this.where} rejected the update because this computer's clock and the server's differ${skew}.`, {
        fix: 'Set the clock right (turn on network time) on this computer or on the DNS server.',
      });
    }
    if (check.status === 'error' || (rcode === RCODE.NOTAUTH && check.status === 'unsigned')) {
      const why =
        check.status === 'error' && check.error === TSIG_BADKEY ? ' (it does not know a key by that name and algorithm)'
          : check.status === 'error' && check.error === TSIG_BADSIG ? ' (the signature did not match: the secret is probably wrong)'
            : '';
      throw new HomeportError('dns01.tsig-rejected', `The DNS server at ${this.where} rejected the TSIG key '${key.name}'${why}: check the key name, algorithm and secret.`, {
        fix: keyFix,
        details: { rcode: RCODE_NAMES[rcode] ?? rcode, tsigError: check.status === 'error' ? check.error : undefined },
      });
    }
    if (check.status === 'bad-mac' || check.status === 'wrong-key') {
      throw new HomeportError('dns01.bad-response-signature', `The answer from the DNS server at ${this.where} carries a TSIG signature that does not match the key '${key.name}', so Homeport cannot trust it.`, {
        fix: 'Make sure that address reaches the zone\'s primary server directly (no other server or middlebox answering in its place).',
      });
    }
    if (check.status === 'bad-time') {
      throw new HomeportError('dns01.clock-skew', `The DNS server at ${this.where} signed its answer with a time that differs from this computer's clock by more than 5 minutes.`, {
        fix: 'Set the clock right (turn on network time) on this computer or on the DNS server.',
      });
    }
    if (rcode === RCODE.NOERROR) {
      if (check.status === 'unsigned') {
        throw new HomeportError('dns01.unsigned-response', `The DNS server at ${this.where} answered the signed update without a signature, so Homeport cannot trust that it happened.`, {
          fix: 'Point the dns-01 settings at the zone\'s primary server itself, not at a resolver or forwarder.',
        });
      }
      return;
    }
    switch (rcode) {
      case RCODE.REFUSED:
        throw new HomeportError('dns01.update-refused', `The DNS server at ${this.where} refused the update: updates are not allowed for zone ${zone} with key '${key.name}'.`, {
          fix: `Allow the key to change TXT records in ${zone} on the server (BIND: update-policy { grant ${key.name} zonesub TXT; };).`,
        });
      case RCODE.NOTAUTH:
        throw new HomeportError('dns01.not-authoritative', `The DNS server at ${this.where} is not authoritative for zone ${zone}.`, {
          fix: 'Point the dns-01 settings at the zone\'s primary server, or correct the zone.',
        });
      case RCODE.NOTZONE:
        throw new HomeportError('dns01.name-outside-zone', `The DNS server at ${this.where} says ${fqdn} is not inside zone ${zone}.`, {
          fix: 'Correct the zone in the dns-01 settings, or leave it empty so Homeport finds the zone itself.',
        });
      case RCODE.NOTIMP:
        throw new HomeportError('dns01.updates-unsupported', `The DNS server at ${this.where} does not accept dynamic updates.`, {
          fix: 'Turn on dynamic updates (RFC 2136) for the zone on its primary server, or use another dns-01 provider.',
        });
      case RCODE.SERVFAIL:
        throw new HomeportError('dns01.update-failed', `The DNS server at ${this.where} failed to apply the update to zone ${zone}.`, {
          fix: 'Look at the DNS server\'s log; a zone or journal file the server may not write is a common cause.',
        });
      default:
        throw new HomeportError('dns01.update-failed', `The DNS server at ${this.where} answered the update to zone ${zone} with ${RCODE_NAMES[rcode] ?? `code ${rcode}`}.`, {
          fix: 'Look at the DNS server\'s log for why it rejected the update.',
        });
    }
  }
}
