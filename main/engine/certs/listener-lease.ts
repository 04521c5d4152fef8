import type { ChallengeType } from './types';
import type { ChallengeStore } from '../acme/challenges';
import type { ChallengeListeners } from '../acme/challenge-listeners';
import { isHomeportError, type HomeportError } from '../errors';

interface Running {
  close: () => Promise<void>;
  canServe: ChallengeType[];
  /** Why a challenge's listener could not start (port in use, privileged). */
  errors: Map<ChallengeType, HomeportError>;
}

/**
 * The standalone challenge listeners while something is being issued and no proxy is
 * running: started by the first issuance, shared by concurrent ones, closed by the last.
 * A challenge whose port cannot be bound is left out (the issuer then picks another one,
 * dns-01 too; the engine says why the ports failed when none is left); when the forced
 * challenge's port fails, that is the error.
 */
export class ListenerLease {
  private running?: Promise<Running>;
  private users = 0;

  constructor(
    private readonly store: ChallengeStore,
    private readonly ports: () => { httpPort: number; httpsPort: number },
  ) {}

  /**
   * `errors`: why the ports of the challenges left out of `canServe` could not be bound, for
   * the engine to say when no challenge is left (dns-01 without a provider).
   */
  async acquire(forced?: ChallengeType): Promise<{ canServe: ChallengeType[]; errors: HomeportError[]; release: () => Promise<void> }> {
    this.users++;
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await this.drop();
    };
    try {
      this.running ??= this.start();
      const running = await this.running;
      if (forced && running.errors.has(forced)) throw running.errors.get(forced);
      return { canServe: running.canServe, errors: [...running.errors.values()], release };
    } catch (e) {
      await release();
      throw e;
    }
  }

  private async drop(): Promise<void> {
    this.users--;
    if (this.users > 0 || !this.running) return;
    const running = this.running;
    this.running = undefined;
    await running.then((r) => r.close(), () => undefined);
  }

  private async start(): Promise<Running> {
    const { startChallengeListeners } = require('../acme/challenge-listeners') as typeof import('../acme/challenge-listeners');
    const { httpPort, httpsPort } = this.ports();
    const opened: ChallengeListeners[] = [];
    const errors = new Map<ChallengeType, HomeportError>();
    const tryOne = async (type: ChallengeType, ports: { httpPort?: number; httpsPort?: number }) => {
      try {
        opened.push(await startChallengeListeners({ store: this.store, ...ports }));
      } catch (e) {
        if (!isHomeportError(e)) throw e;
        errors.set(type, e);
      }
    };
    await Promise.all([tryOne('http-01', { httpPort }), tryOne('tls-alpn-01', { httpsPort })]);
    const types: ChallengeType[] = ['http-01', 'tls-alpn-01'];
    return {
      canServe: [...types.filter((t) => !errors.has(t)), 'dns-01'],
      // In a fixed order (port 80's first), whichever listener failed first.
      errors: new Map(types.flatMap((t) => (errors.has(t) ? [[t, errors.get(t)!] as const] : []))),
      close: async () => void (await Promise.all(opened.map((l) => l.close()))),
    };
  }
}
