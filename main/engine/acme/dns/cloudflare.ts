import { getDomain } from 'tldts';
import { HomeportError } from '../../errors';
import type { DnsProvider } from '../dns-provider';

export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';

export interface CloudflareOptions {
  /** An API token (not the Global API Key) with Zone → DNS → Edit on the zone. */
  apiToken: string;
  /** Skips the zone look-up (and the Zone → Zone → Read permission it needs). */
  zoneId?: string;
  /** Cloudflare's API by default; tests point it at a local server. */
  baseUrl?: string;
  /** Seconds; Cloudflare's minimum for non-enterprise zones is 60. */
  ttl?: number;
  timeoutMs?: number;
}

interface CloudflareMessage {
  code: number;
  message: string;
  error_chain?: CloudflareMessage[];
}

interface CloudflareEnvelope<T> {
  success: boolean;
  errors?: CloudflareMessage[];
  result?: T;
}

interface DnsRecord {
  id: string;
  type: string;
  name: string;
  content: string;
}

/** An API answer that was not a success, before it is turned into words. */
class ApiFailure extends Error {
  constructor(readonly status: number, readonly errors: CloudflareMessage[]) {
    const say = (e: CloudflareMessage): string =>
      `${e.message} (${e.code})${e.error_chain?.length ? `: ${e.error_chain.map(say).join(', ')}` : ''}`;
    super(errors.map(say).join('; ') || `HTTP ${status}`);
  }

  has(...codes: number[]): boolean {
    const all = this.errors.flatMap((e) => [e, ...(e.error_chain ?? [])]);
    return all.some((e) => codes.includes(e.code));
  }

  get text(): string {
    return this.errors.flatMap((e) => [e, ...(e.error_chain ?? [])]).map((e) => e.message).join(' ');
  }
}

const TOKEN_FIX =
  'Create an API token in the Cloudflare dashboard (My Profile → API Tokens, template "Edit zone DNS") with Zone → DNS → Edit for the zone, and paste it whole.';

/**
 * dns-01 through Cloudflare's API v4. TXT records are never proxied ("orange cloud" applies
 * only to A, AAAA and CNAME), so the CA sees exactly what we create.
 */
export class CloudflareProvider implements DnsProvider {
  readonly id = 'cloudflare';
  private readonly baseUrl: string;
  private readonly zoneIds = new Map<string, string>();
  private readonly recordIds = new Map<string, string>();

  constructor(private readonly opts: CloudflareOptions) {
    this.baseUrl = (opts.baseUrl ?? CLOUDFLARE_API).replace(/\/+$/, '');
  }

  async setTxt(fqdn: string, value: string): Promise<void> {
    const name = normalize(fqdn);
    const zoneId = await this.zoneFor(name);
    try {
      const record = await this.api<DnsRecord>('POST', `/zones/${encodeURIComponent(zoneId)}/dns_records`, {
        type: 'TXT',
        name,
        content: value,
        ttl: this.opts.ttl ?? 60,
      });
      this.recordIds.set(recordKey(name, value), record.id);
    } catch (e) {
      // 81057/81058: the same record is already there (a retry after a lost answer): that is our goal.
      if (!(e instanceof ApiFailure && e.has(81057, 81058))) throw this.explain(e, zoneId);
      const existing = await this.findRecord(zoneId, name, value);
      if (existing) this.recordIds.set(recordKey(name, value), existing.id);
    }
  }

  async removeTxt(fqdn: string, value: string): Promise<void> {
    const name = normalize(fqdn);
    const zoneId = await this.zoneFor(name);
    const key = recordKey(name, value);
    const id = this.recordIds.get(key) ?? (await this.findRecord(zoneId, name, value))?.id;
    if (id === undefined) return;
    try {
      await this.api('DELETE', `/zones/${encodeURIComponent(zoneId)}/dns_records/${encodeURIComponent(id)}`);
    } catch (e) {
      // 81044: already gone, which is what removing wanted.
      if (!(e instanceof ApiFailure && e.has(81044))) throw this.explain(e, zoneId);
    }
    this.recordIds.delete(key);
  }

  /**
   * The id of the Cloudflare zone holding `name`: the configured one, else the longest
   * suffix of the name, down to its registrable domain, that the token can see as a zone.
   */
  async zoneFor(name: string): Promise<string> {
    if (this.opts.zoneId) return this.opts.zoneId;
    const cached = this.zoneIds.get(name);
    if (cached !== undefined) return cached;
    const labels = name.split('.');
    const registrable = getDomain(name, { allowPrivateDomains: false }) ?? labels.slice(-2).join('.');
    for (let i = 0; i < labels.length; i++) {
      const candidate = labels.slice(i).join('.');
      let zones: { id: string; name: string }[];
      try {
        zones = await this.api<{ id: string; name: string }[]>('GET', `/zones?name=${encodeURIComponent(candidate)}`);
      } catch (e) {
        throw this.explain(e);
      }
      const zone = zones.find((z) => z.name.toLowerCase() === candidate);
      if (zone) {
        this.zoneIds.set(name, zone.id);
        return zone.id;
      }
      if (candidate === registrable) break;
    }
    throw new HomeportError('dns01.cloudflare-zone-not-found', `Cloudflare has no zone for ${name} that this API token can see.`, {
      fix: `Add ${registrable} to your Cloudflare account, or give the token Zone → Zone → Read and Zone → DNS → Edit for that zone (or set its zone id).`,
    });
  }

  private async findRecord(zoneId: string, name: string, value: string): Promise<DnsRecord | undefined> {
    try {
      const records = await this.api<DnsRecord[]>(
        'GET',
        `/zones/${encodeURIComponent(zoneId)}/dns_records?type=TXT&name=${encodeURIComponent(name)}&per_page=100`,
      );
      // Records made in the dashboard may carry their content in quotes.
      return records.find((r) => r.name.toLowerCase() === name && (r.content === value || r.content === `"${value}"`));
    } catch (e) {
      throw this.explain(e, zoneId);
    }
  }

  private async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.opts.apiToken}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new HomeportError('dns01.cloudflare-unreachable', `Homeport could not reach Cloudflare's API at ${this.baseUrl} (${describeFetchError(e)}).`, {
        fix: 'Check this computer\'s internet connection, proxy and firewall.',
        cause: e,
      });
    }
    let envelope: CloudflareEnvelope<T>;
    try {
      envelope = (await res.json()) as CloudflareEnvelope<T>;
    } catch (e) {
      if (res.status >= 500) throw new ApiFailure(res.status, []);
      throw new HomeportError('dns01.cloudflare-error', `Cloudflare's API answered HTTP ${res.status} with something that is not its usual JSON.`, {
        fix: 'Check that nothing (a proxy, a captive portal) stands between this computer and api.cloudflare.com.',
        cause: e,
      });
    }
    if (!res.ok || !envelope.success) throw new ApiFailure(res.status, envelope.errors ?? []);
    return envelope.result as T;
  }

  /** Cloudflare's error codes, turned into what happened and what to do. */
  private explain(e: unknown, zoneId?: string): unknown {
    if (!(e instanceof ApiFailure)) return e;
    const said = e.message;
    const details = { status: e.status, errors: e.errors };
    if (e.has(9109) && /location/i.test(e.text)) {
      return new HomeportError('dns01.cloudflare-token-restricted', `Cloudflare refuses the API token from this computer's IP address (${said}).`, {
        fix: 'Allow this address in the token\'s "Client IP Address Filtering", or remove that filter.',
        details,
      });
    }
    if (e.has(6003, 6100, 6101, 6102, 6103, 6111, 9103, 9106, 9107, 9109, 1000, 10001)) {
      return new HomeportError('dns01.cloudflare-bad-token', `Cloudflare did not accept the API token: it is mistyped, expired or revoked (${said}).`, {
        fix: TOKEN_FIX,
        details,
      });
    }
    if (e.has(7000, 7003, 1001) || (zoneId && e.status === 404)) {
      return new HomeportError('dns01.cloudflare-zone-not-found', `Cloudflare has no zone with id ${zoneId ?? '(none)'} that this API token can see (${said}).`, {
        fix: 'Correct the zone id (Cloudflare dashboard → the domain → Overview → Zone ID), or leave it empty so Homeport finds it.',
        details,
      });
    }
    if (e.has(10000) || e.status === 403) {
      return new HomeportError('dns01.cloudflare-permission', `The Cloudflare API token is valid but may not change DNS records${zoneId ? ` in zone ${zoneId}` : ''} (${said}).`, {
        fix: 'Edit the token in the Cloudflare dashboard: give it Zone → DNS → Edit (and Zone → Zone → Read) for this zone.',
        details,
      });
    }
    if (e.has(971, 10429, 10502) || e.status === 429) {
      return new HomeportError('dns01.cloudflare-rate-limited', `Cloudflare is limiting requests from this token (${said}).`, {
        fix: 'Wait a few minutes; Homeport retries on its own schedule.',
        details,
      });
    }
    if (e.status >= 500) {
      return new HomeportError('dns01.cloudflare-unavailable', `Cloudflare's API is failing (HTTP ${e.status}${e.errors.length ? `: ${said}` : ''}).`, {
        fix: 'Try again later; https://www.cloudflarestatus.com shows ongoing incidents.',
        details,
      });
    }
    return new HomeportError('dns01.cloudflare-error', `Cloudflare refused the request: ${said}.`, {
      fix: 'Check the domain\'s DNS settings in the Cloudflare dashboard.',
      details,
    });
  }
}

const normalize = (name: string): string => name.trim().replace(/\.$/, '').toLowerCase();
const recordKey = (name: string, value: string): string => `${name}\n${value}`;

function describeFetchError(e: unknown): string {
  if (e instanceof Error && e.name === 'TimeoutError') return 'no answer in time';
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}
