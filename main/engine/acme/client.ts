import type { Authorization, Client, Order } from 'acme-client';
import type { Challenge } from 'acme-client/types/rfc8555';
import type { ChallengeType } from '../certs/types';
import { HomeportError } from '../errors';
import { acme, withConnection } from './acme-http';
import { AcmeProblemError, addressFromDetail, type AcmeProblem } from './problems';
import type { AcmeDirectory, CaConnection } from './transport';
import { capitalized } from './cas';

export type { Authorization, Order };
export type AcmeChallenge = Challenge & {
  token: string;
  error?: AcmeProblem;
  validationRecord?: { url?: string; hostname?: string; port?: string; addressUsed?: string; addressesResolved?: string[] }[];
};

export interface ExternalAccountBinding {
  kid: string;
  /** base64url HMAC key as the CA hands it out. */
  hmacKey: string;
}

/**
 * Polling of pending orders and authorizations (acme-client's waitForValidStatus): the first
 * look is immediate, then after 25 ms doubling up to 10 s, 20 looks (about 100 s) in all. A
 * local or quick CA decides within tens of milliseconds, so warm issuance stays fast (50 ms
 * steps cost Pebble a whole extra step, ~25 ms, per authorization); a CA that takes seconds
 * sees six looks in the first second and then one every few seconds, at most one per 10 s,
 * and a Retry-After on a pending object holds the next look (acme-http.ts). acme-client's
 * default (5 s, then 10, 20 …) would add seconds to every issuance.
 */
const POLLING = { backoffAttempts: 20, backoffMin: 25, backoffMax: 10_000 };

/**
 * One CA account through acme-client: the Client with its account key, the connection its
 * requests use (acme-http.ts), and the few things Homeport adds: typed failures with the
 * CA's validation record, and the account re-created when the CA forgot it.
 */
export class CaClient {
  private client: Client;

  constructor(
    readonly conn: CaConnection,
    readonly directoryUrl: string,
    private readonly accountKeyPem: string,
    /** The directory, fetched and checked before acme-client saw the URL. */
    readonly directory: AcmeDirectory,
    private readonly eab?: ExternalAccountBinding,
  ) {
    this.client = this.makeClient(undefined);
  }

  /** What to call the CA in messages. */
  get label(): string {
    return this.conn.label;
  }

  private makeClient(accountUrl: string | undefined): Client {
    return new (acme().Client)({
      directoryUrl: this.directoryUrl,
      accountKey: this.accountKeyPem,
      accountUrl,
      externalAccountBinding: this.eab,
      ...POLLING,
    });
  }

  get accountUrl(): string | undefined {
    try {
      return this.client.getAccountUrl();
    } catch {
      return undefined;
    }
  }

  /** Signs further requests as this account (a stored account URL; nothing is sent). */
  useAccount(url: string): void {
    this.client = this.makeClient(url);
  }

  /** Runs acme-client calls over this CA's connection. */
  run<T>(fn: (c: Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    return withConnection(this.conn, signal, () => fn(this.client));
  }

  /** The account for this key, found without creating one; undefined if the CA has none. */
  async findAccount(): Promise<string | undefined> {
    this.client = this.makeClient(undefined);
    try {
      await this.run((c) => c.createAccount({ onlyReturnExisting: true }));
      return this.accountUrl;
    } catch (e) {
      if (e instanceof AcmeProblemError && e.shortType === 'accountDoesNotExist') return undefined;
      throw e;
    }
  }

  /** newAccount (an existing account for this key is found again); returns its URL. */
  async createAccount(opts: { email?: string; termsOfServiceAgreed: boolean }): Promise<string> {
    this.client = this.makeClient(undefined);
    await this.run((c) => c.createAccount({ termsOfServiceAgreed: opts.termsOfServiceAgreed, ...(opts.email ? { contact: [`mailto:${opts.email}`] } : {}) }));
    const url = this.accountUrl;
    if (!url) throw this.badResponse('no account URL (Location) on newAccount');
    return url;
  }

  updateContact(email: string): Promise<unknown> {
    return this.run((c) => c.updateAccount({ contact: [`mailto:${email}`] }));
  }

  /** newOrder; `replaces` names the certificate a renewal replaces (RFC 9773 §5). */
  createOrder(identifiers: { type: 'dns' | 'ip'; value: string }[], opts: { replaces?: string; signal?: AbortSignal } = {}): Promise<Order> {
    const payload = opts.replaces ? { identifiers, replaces: opts.replaces } : { identifiers };
    return this.run((c) => c.createOrder(payload), opts.signal);
  }

  authorizations(order: Order, signal?: AbortSignal): Promise<Authorization[]> {
    return this.run((c) => c.getAuthorizations(order), signal);
  }

  /** What a challenge's answer holds: the key authorization, or for dns-01 the TXT value. */
  answer(challenge: AcmeChallenge): Promise<string> {
    return this.client.getChallengeKeyAuthorization(challenge);
  }

  /**
   * Asks the CA to validate and waits for its verdict. acme-client reports an invalid
   * authorization as a plain Error, so the authorization is read again for the challenge's
   * error and validation record: the typed error keeps type, identifier and address used.
   */
  async validate(authz: Authorization, challenge: AcmeChallenge, opts: { challengeType: ChallengeType; caaIdentities?: string[]; signal?: AbortSignal }): Promise<Authorization> {
    const name = (authz.wildcard ? '*.' : '') + authz.identifier.value;
    try {
      return await this.run(async (c) => {
        await c.completeChallenge(challenge);
        return { ...(await c.waitForValidStatus(authz)), url: authz.url };
      }, opts.signal);
    } catch (e) {
      if (e instanceof HomeportError || opts.signal?.aborted) throw e;
      const [done] = await this.run((c) => c.getAuthorizations({ authorizations: [authz.url] } as Order), opts.signal);
      if (done?.status === 'valid') return done;
      if (done?.status === 'pending') {
        throw new HomeportError('acme.timeout', `${capitalized(this.label)} kept the authorization of ${name} pending for too long.`, {
          fix: 'Try again later; the CA may be overloaded.',
          cause: e,
        });
      }
      const failed = (done?.challenges.find((c) => c.type === challenge.type) ?? challenge) as AcmeChallenge;
      const record = failed.validationRecord?.[failed.validationRecord.length - 1];
      const fromDetail = addressFromDetail(failed.error?.detail);
      throw new AcmeProblemError(failed.error ?? { detail: `the authorization became ${done?.status ?? 'invalid'} (${(e as Error).message})` }, {
        ca: this.label,
        identifier: name,
        challenge: opts.challengeType,
        addressUsed: record?.addressUsed ?? fromDetail.address,
        port: record?.port ? Number(record.port) : fromDetail.port,
        caaIdentities: opts.caaIdentities,
      });
    }
  }

  /** Leaves nothing usable behind (the pre-flight dry run): the next order validates afresh. */
  deactivate(authz: Authorization, signal?: AbortSignal): Promise<Authorization> {
    return this.run((c) => c.deactivateAuthorization(authz), signal);
  }

  /**
   * Waits for the order to be ready, finalizes it with the CSR and downloads the certificate
   * chain (PEM). An order that turns invalid is read again for its problem document.
   */
  async finalize(order: Order, csrPem: Buffer, opts: { caaIdentities?: string[]; signal?: AbortSignal } = {}): Promise<string> {
    try {
      return await this.run(async (c) => {
        // waitForValidStatus answers without the order's URL, which finalizing needs.
        const ready = order.status === 'ready' ? order : { ...(await c.waitForValidStatus(order)), url: order.url };
        const finalized = await c.finalizeOrder(ready, csrPem);
        return await c.getCertificate(finalized);
      }, opts.signal);
    } catch (e) {
      if (e instanceof HomeportError || opts.signal?.aborted) throw e;
      const now = await this.run((c) => c.getOrder(order), opts.signal);
      if (now.status === 'invalid') {
        throw new AcmeProblemError((now.error as AcmeProblem | undefined) ?? { detail: 'the order became invalid' }, { ca: this.label, caaIdentities: opts.caaIdentities });
      }
      throw this.badResponse((e as Error).message, e);
    }
  }

  badResponse(why: string, cause?: unknown): HomeportError {
    return new HomeportError('acme.bad-response', `${capitalized(this.label)} answered something unexpected: ${why}.`, {
      fix: 'Try again later; if it persists the CA may be misbehaving: use another CA.',
      cause,
    });
  }
}
