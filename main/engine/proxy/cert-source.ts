import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { HomeportError } from '../errors';
import { newTicketKeys } from './ticket-keys';

/**
 * Where the HTTPS listener gets certificates. `contextFor` runs on every handshake, so it
 * only looks up a SecureContext built once at activation; replacing the context makes new
 * handshakes use the new certificate at once while open connections keep theirs.
 */
export interface CertificateSource {
  /** The context for `servername` (lower-case ASCII): exact name first, then `*.parent`. */
  contextFor(servername: string): SecureContext | undefined;
  /** The same lookup, with the id the certificate is stored under (for handshake holds). */
  servedFor(servername: string): { id: string; context: SecureContext } | undefined;
  /** The context for clients without SNI and unknown names, when the settings allow one. */
  defaultContext(): SecureContext | undefined;
  /** The same certificate as PEMs: the listener's own context is built from them. */
  defaultCertificate(): ServedCertificate | undefined;
  /** Called when the default certificate is chosen, replaced (renewed) or removed. */
  onDefaultChange(fn: () => void): () => void;
  /**
   * Session-ticket keys (48 bytes). OpenSSL seals and opens tickets with the listener's own
   * context, whatever certificate SNI picked, so the listener takes them from here.
   */
  readonly ticketKeys: Buffer;
  /** The keys retired at the last rotation: their tickets still resume, and are renewed. */
  readonly previousTicketKeys: Buffer | undefined;
  onTicketKeys(fn: (keys: Buffer) => void): () => void;
}

/**
 * "Hold the TLS handshake up to N seconds" (on-demand issuance): for a certificate id,
 * undefined when a handshake may go ahead, or a promise that settles when it may (the
 * engine's handshakeHold: at CT-ready, capped by the policy).
 */
export type HandshakeHold = (certId: string) => Promise<void> | undefined;

/** A certificate as the proxy serves it: PEMs plus the id it is stored under. */
export interface ServedCertificate {
  id: string;
  /** Leaf, PEM. */
  certPem: string;
  /** Intermediates, PEM (may be empty). */
  chainPem: string;
  keyPem: string;
}

/**
 * Modern TLS only: 1.2 with forward-secret AEAD suites, and 1.3 (whose suites are all
 * fine).
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Leaf then intermediates, as a TLS context takes them. */
export function fullChain(cert: Pick<ServedCertificate, 'certPem' | 'chainPem'>): string {
  return cert.chainPem.trim() ? `${cert.certPem.trim()}\n${cert.chainPem.trim()}\n` : cert.certPem;
}

export function buildSecureContext(cert: Pick<ServedCertificate, 'certPem' | 'chainPem' | 'keyPem'>): SecureContext {
  return createSecureContext({
    cert: fullChain(cert),
    key: cert.keyPem,
    minVersion: 'TLSv1.2',
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
    ecdhCurve: 'X25519:P-256:P-384',
  });
}

/** The DNS names a certificate covers (subjectAltName dNSName entries), lower-case. */
export function certificateNames(certPem: string): string[] {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
}

/** `removed` is set when the certificate stopped being served. */
type Listener = (info: { id: string; names: string[]; removed?: boolean }) => void;
type KeysListener = (ticketKeys: Buffer) => void;

/**
 * The proxy's certificates by name. The engine (or a file loader) calls `activate` when a
 * certificate becomes active; the context is built there, once, and the name map switched
 * in one step.
 */
export class CertificateTable implements CertificateSource {
  private readonly byName = new Map<string, { id: string; context: SecureContext }>();
  private readonly byId = new Map<string, { names: string[]; context: SecureContext; cert: ServedCertificate }>();
  private readonly listeners = new Set<Listener>();
  private readonly keyListeners = new Set<KeysListener>();
  private readonly defaultListeners = new Set<() => void>();
  private defaultId: string | undefined;
  private retiredKeys: Buffer | undefined;

  constructor(private keys: Buffer = newTicketKeys()) {}

  get ticketKeys(): Buffer {
    return this.keys;
  }

  get previousTicketKeys(): Buffer | undefined {
    return this.retiredKeys;
  }

  /**
   * New session-ticket keys, shared by every worker so a session resumes on any of them.
   * Tickets sealed with the keys retired here still resume (and get a ticket under the new
   * keys); those sealed with older ones do not, as their secrets are gone from this
   * process: forward secrecy of resumed sessions is bounded to two rotation periods. Open
   * connections are untouched.
   */
  rotateTicketKeys(keys: Buffer = newTicketKeys()): void {
    this.retiredKeys = this.keys;
    this.keys = keys;
    for (const fn of this.keyListeners) fn(keys);
  }

  /** Called after each key rotation (listeners apply them; cluster primaries forward them). */
  onTicketKeys(fn: KeysListener): () => void {
    this.keyListeners.add(fn);
    return () => this.keyListeners.delete(fn);
  }

  activate(cert: ServedCertificate): void {
    let names: string[];
    let context: SecureContext;
    try {
      names = certificateNames(cert.certPem);
      context = buildSecureContext(cert);
    } catch (e) {
      throw new HomeportError('proxy.bad-certificate', `The certificate "${cert.id}" cannot be served: ${(e as Error).message}.`, {
        fix: 'Check that its key matches the certificate, or issue it again.',
        cause: e,
      });
    }
    const previous = this.byId.get(cert.id);
    this.byId.set(cert.id, { names, context, cert });
    this.rebuildNames(previous ? previous.names : []);
    for (const fn of this.listeners) fn({ id: cert.id, names });
    if (cert.id === this.defaultId) this.defaultChanged();
  }

  remove(id: string): void {
    const previous = this.byId.get(id);
    if (!previous) return;
    this.byId.delete(id);
    this.rebuildNames(previous.names);
    for (const fn of this.listeners) fn({ id, names: previous.names, removed: true });
    if (id === this.defaultId) this.defaultChanged();
  }

  /** The certificate for unknown names and clients without SNI, if the settings say so. */
  setDefault(id: string | undefined): void {
    this.defaultId = id;
    this.defaultChanged();
  }

  onDefaultChange(fn: () => void): () => void {
    this.defaultListeners.add(fn);
    return () => this.defaultListeners.delete(fn);
  }

  /** Called after each activation and removal (cluster primaries forward them to their workers). */
  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  contextFor(servername: string): SecureContext | undefined {
    return this.servedFor(servername)?.context;
  }

  servedFor(servername: string): { id: string; context: SecureContext } | undefined {
    const exact = this.byName.get(servername);
    if (exact) return exact;
    const dot = servername.indexOf('.');
    return dot > 0 ? this.byName.get(`*${servername.slice(dot)}`) : undefined;
  }

  defaultContext(): SecureContext | undefined {
    return this.defaultId === undefined ? undefined : this.byId.get(this.defaultId)?.context;
  }

  defaultCertificate(): ServedCertificate | undefined {
    return this.defaultId === undefined ? undefined : this.byId.get(this.defaultId)?.cert;
  }

  certificates(): ServedCertificate[] {
    return [...this.byId.values()].map((e) => e.cert);
  }

  private defaultChanged(): void {
    for (const fn of this.defaultListeners) fn();
  }

  /** Later activations win a name two certificates share; a removed id frees its names. */
  private rebuildNames(stale: string[]): void {
    for (const n of stale) this.byName.delete(n);
    for (const [id, { names, context }] of this.byId) for (const n of names) this.byName.set(n, { id, context });
  }
}

/**
 * Brings the table in line with the certificate store on disk (`<certsDir>/<id>/current/`):
 * activates certificates that are new or changed (by serial, from meta.json or the
 * certificate) and removes those that are gone. `known` remembers what was loaded, so an
 * unchanged certificate costs one small file read, not a new SecureContext. This is also
 * how a serving process sees a renewal made by another `homeport` process.
 */
export async function syncCertificatesFromStore(
  table: CertificateTable,
  certsDir: string,
  known: Map<string, string>,
): Promise<{ activated: string[]; removed: string[]; failed: HomeportError[] }> {
  let ids: string[];
  try {
    ids = (await fs.readdir(certsDir, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    ids = [];
  }
  const activated: string[] = [];
  const removed: string[] = [];
  const failed: HomeportError[] = [];
  for (const id of ids.sort()) {
    const dir = path.join(certsDir, id, 'current');
    const read = (f: string) => fs.readFile(path.join(dir, f), 'utf8');
    let certPem: string;
    try {
      certPem = await read('cert.pem');
    } catch {
      continue; // not issued yet
    }
    const meta = await read('meta.json').then((m) => JSON.parse(m) as { serial?: string }, () => undefined);
    let version: string;
    try {
      version = meta?.serial ?? new X509Certificate(certPem).serialNumber;
    } catch {
      version = certPem; // unreadable: activate() below says what is wrong with it
    }
    if (known.get(id) === version) continue;
    let keyPem: string, chainPem: string;
    try {
      [keyPem, chainPem] = await Promise.all([read('key.pem'), read('chain.pem').catch(() => '')]);
    } catch {
      continue; // caught between two renames of a promotion: the next sync sees it whole
    }
    known.set(id, version);
    try {
      table.activate({ id, certPem, chainPem, keyPem });
    } catch (e) {
      failed.push(e as HomeportError);
      continue;
    }
    activated.push(id);
  }
  for (const id of [...known.keys()]) {
    if (!ids.includes(id)) {
      table.remove(id);
      known.delete(id);
      removed.push(id);
    }
  }
  return { activated, removed, failed };
}
