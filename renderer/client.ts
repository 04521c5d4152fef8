import type { ApiError, ApiEvent, ApiMethod, HomeportApi, HomeportTransport, Result } from '../main/api/contract';
import { httpTransport } from './http-transport.js';

/** A failed call: the engine's code, plain message and fix, ready to show. */
export class UiError extends Error {
  readonly code: string;
  readonly fix?: string;
  readonly field?: string;
  constructor(e: ApiError) {
    super(e.message);
    this.code = e.code;
    this.fix = e.fix;
    this.field = e.field;
  }
}

export type Client = HomeportApi & { onEvent(listener: (event: ApiEvent) => void): () => void };

declare global {
  interface Window {
    /** Set by the Electron preload; absent in a plain browser. */
    homeport?: HomeportTransport;
  }
}

const METHODS: readonly ApiMethod[] = [
  'overview', 'getCertificate', 'preflight', 'issue', 'renew', 'removeCertificate', 'exportCertificate',
  'addRoute', 'removeRoute', 'getSettings', 'updateSettings',
];

/**
 * The UI's one way to the engine. It neither knows nor cares whether the preload or the
 * headless host's HTTP API carries the call: both give the same Result envelopes.
 */
export function createClient(transport: HomeportTransport = window.homeport ?? httpTransport()): Client {
  const client = { onEvent: (l: (event: ApiEvent) => void) => transport.onEvent(l) } as Record<string, unknown>;
  for (const m of METHODS) {
    client[m] = async (req?: unknown) => {
      const call = transport[m] as (r?: unknown) => Promise<Result<unknown>>;
      const result = await call(req);
      if (!result.ok) throw new UiError(result.error);
      return result.value;
    };
  }
  return client as unknown as Client;
}
