import { KeyObject, X509Certificate, createHash, generateKeyPairSync, sign } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as asn1js from 'asn1js';
import { type Clock, systemClock } from '../../main/engine/clock';
import { MemoryTree } from '../../main/engine/ct/merkle';
import { POISON_OID } from './test-ca';

/**
 * What both test logs share: a log key, turning a submitted chain into a log entry the way
 * a real log does (chain checked up to an accepted root, poison cut out of the
 * precertificate), the RFC 6962 serializations, and the SCT signature. Written apart from
 * Homeport's own CT code on purpose: the end-to-end tests only prove something if the log
 * side and the verifying side were not built from the same functions.
 */

export class LogKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly spki: Buffer;
  readonly logId: Buffer;

  constructor() {
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = k.privateKey;
    this.publicKey = k.publicKey;
    this.spki = k.publicKey.export({ type: 'spki', format: 'der' });
    this.logId = createHash('sha256').update(this.spki).digest();
  }

  /** A TLS digitally-signed struct: SHA-256 (4), ECDSA (3), signature<0..2^16-1>. */
  digitallySign(data: Buffer): Buffer {
    const sig = sign('sha256', data, this.privateKey);
    const head = Buffer.of(4, 3, 0, 0);
    head.writeUInt16BE(sig.length, 2);
    return Buffer.concat([head, sig]);
  }
}

export interface LogEntry {
  timestamp: number;
  type: 'x509' | 'precert';
  /** x509: the certificate. precert: the TBSCertificate without the poison. */
  signedCert: Buffer;
  issuerKeyHash?: Buffer;
  /** The certificate as submitted (the precertificate for precert entries). */
  submitted: Buffer;
  /** The rest of the submitted chain, up to and including the root. */
  chain: Buffer[];
  extensions: Buffer;
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u24 = (n: number) => {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
export const vec16 = (b: Buffer) => Buffer.concat([u16(b.length), b]);
export const vec24 = (b: Buffer) => Buffer.concat([u24(b.length), b]);

/** TimestampedEntry (RFC 6962 §3.4). */
export function timestampedEntry(e: LogEntry): Buffer {
  const signed =
    e.type === 'x509' ? vec24(e.signedCert) : Buffer.concat([e.issuerKeyHash!, vec24(e.signedCert)]);
  return Buffer.concat([u64(e.timestamp), u16(e.type === 'x509' ? 0 : 1), signed, vec16(e.extensions)]);
}

/** MerkleTreeLeaf: version v1, leaf_type timestamped_entry, then the entry. */
export function merkleTreeLeaf(e: LogEntry): Buffer {
  return Buffer.concat([Buffer.of(0, 0), timestampedEntry(e)]);
}

export function leafHashOf(e: LogEntry): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(merkleTreeLeaf(e)).digest();
}

/**
 * The tree of `entries` with the first one's hash forged: what a misbehaving log publishes
 * to show a second history (a split view). Entries keep their indices.
 */
export function forgedHistory(entries: LogEntry[]): MemoryTree {
  if (entries.length === 0) throw new Error('an empty log has no history to fork');
  const forged = new MemoryTree();
  forged.append(createHash('sha256').update('a forged first entry').digest());
  for (const e of entries.slice(1)) forged.append(leafHashOf(e));
  return forged;
}

/** Signs the SCT for an entry (sct_version v1, signature_type certificate_timestamp) and answers as add-chain does. */
export function issueSct(key: LogKey, e: LogEntry) {
  const signature = key.digitallySign(Buffer.concat([Buffer.of(0, 0), timestampedEntry(e)]));
  return {
    sct_version: 0,
    id: key.logId.toString('base64'),
    timestamp: e.timestamp,
    extensions: e.extensions.toString('base64'),
    signature: signature.toString('base64'),
  };
}

export class SubmissionError extends Error {}

const toArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;

/** Splits a certificate into its TBSCertificate (as asn1js objects) and extension list. */
function certificateParts(der: Buffer) {
  const parsed = asn1js.fromBER(toArrayBuffer(der));
  if (parsed.offset === -1) throw new SubmissionError('the first certificate is not DER');
  const tbs = (parsed.result as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
  const wrapper = tbs.valueBlock.value.find((v) => v.idBlock.tagClass === 3 && v.idBlock.tagNumber === 3) as
    | asn1js.Constructed
    | undefined;
  const exts = wrapper ? (wrapper.valueBlock.value[0] as asn1js.Sequence) : undefined;
  const oidOf = (e: asn1js.AsnType) =>
    ((e as asn1js.Sequence).valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString();
  return { tbs, exts, oidOf };
}

/** The precertificate's TBSCertificate with the poison extension removed, re-encoded as DER. */
export function tbsWithoutPoison(precert: Buffer): Buffer {
  const { tbs, exts, oidOf } = certificateParts(precert);
  if (!exts) throw new SubmissionError('the precertificate has no extensions');
  const kept = exts.valueBlock.value.filter((e) => oidOf(e) !== POISON_OID);
  if (kept.length !== exts.valueBlock.value.length - 1) throw new SubmissionError('the precertificate lacks the poison extension');
  exts.valueBlock.value = kept;
  // asn1js keeps a decoded long-form length even when the content shrinks under 128 bytes,
  // which is BER, not DER; a real log re-encodes as DER, so the enclosing lengths start over.
  const wrapper = tbs.valueBlock.value.find((v) => v.idBlock.tagClass === 3 && v.idBlock.tagNumber === 3)!;
  for (const node of [exts, wrapper, tbs]) node.lenBlock.longFormUsed = false;
  return Buffer.from(tbs.toBER(false));
}

function hasPoison(der: Buffer): boolean {
  const { exts, oidOf } = certificateParts(der);
  return !!exts?.valueBlock.value.some((e) => oidOf(e) === POISON_OID);
}

/**
 * Checks a submitted chain (each certificate signed by the next, ending at or under an
 * accepted root) and builds the entry to log, stamped with the log's clock.
 */
export function entryFromSubmission(body: unknown, precert: boolean, roots: Buffer[], clock: Clock, extensions: Buffer = Buffer.alloc(0)): LogEntry {
  const list = (body as { chain?: unknown })?.chain;
  if (!Array.isArray(list) || list.length < 2 || !list.every((c) => typeof c === 'string')) {
    throw new SubmissionError('chain must be an array of at least two base64 certificates');
  }
  const ders = list.map((c: string) => Buffer.from(c, 'base64'));
  let certs: X509Certificate[];
  try {
    certs = ders.map((d) => new X509Certificate(d));
  } catch {
    throw new SubmissionError('a chain element is not a certificate');
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i].verify(certs[i + 1].publicKey)) throw new SubmissionError(`chain element ${i} is not signed by element ${i + 1}`);
  }
  const last = ders[ders.length - 1];
  const anchored = roots.some((r) => r.equals(last) || certs[certs.length - 1].verify(new X509Certificate(r).publicKey));
  if (!anchored) throw new SubmissionError('the chain does not end at a root this log accepts');
  if (hasPoison(ders[0]) !== precert) {
    throw new SubmissionError(precert ? 'add-pre-chain needs a precertificate (poison extension)' : 'add-chain refuses precertificates');
  }
  const base = { timestamp: clock.now(), submitted: ders[0], chain: ders.slice(1), extensions };
  if (!precert) return { ...base, type: 'x509', signedCert: ders[0] };
  const issuerSpki = certs[1].publicKey.export({ type: 'spki', format: 'der' });
  return {
    ...base,
    type: 'precert',
    signedCert: tbsWithoutPoison(ders[0]),
    issuerKeyHash: createHash('sha256').update(issuerSpki).digest(),
  };
}

export type Handler = (req: { method: string; path: string; query: URLSearchParams; body: unknown }) =>
  | { status: number; json?: unknown; bytes?: Buffer; text?: string }
  | Promise<{ status: number; json?: unknown; bytes?: Buffer; text?: string }>;

/** A loopback HTTP server for one log; `requests` records every path asked for (the tests read it). */
export async function serveLog(handler: Handler): Promise<{ url: string; port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${u.pathname}${u.search}`);
      let body: unknown;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        res.writeHead(400).end('body is not JSON');
        return;
      }
      try {
        const out = await handler({ method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, body });
        if (out.json !== undefined) {
          res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify(out.json));
        } else if (out.bytes) {
          res.writeHead(out.status, { 'content-type': 'application/octet-stream' }).end(out.bytes);
        } else {
          res.writeHead(out.status, { 'content-type': 'text/plain' }).end(out.text ?? '');
        }
      } catch (e) {
        const status = e instanceof SubmissionError ? 400 : 500;
        res.writeHead(status, { 'content-type': 'text/plain' }).end((e as Error).message);
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * How a test log merges submitted entries into its tree: at once, when told, or never (a log
 * that breaks its MMD promise).
 */
export type Integration = 'immediate' | 'manual' | 'never';

export interface TestLogOptions {
  /** The log's description in the log list. */
  name: string;
  /** Roots whose chains it accepts (DER). */
  roots: Buffer[];
  clock?: Clock;
  integration?: Integration;
  /** Maximum merge delay it promises, seconds (what the log list says). */
  mmd?: number;
}

/**
 * What the RFC 6962 and the static-ct-api test logs share: key, identity, tree, entries,
 * the loopback server, and the misbehaviour of forking their history.
 */
export abstract class TestLog {
  readonly key = new LogKey();
  readonly name: string;
  readonly mmd: number;
  url = '';
  requests: string[] = [];
  integration: Integration;
  protected readonly clock: Clock;
  protected readonly roots: Buffer[];
  protected tree = new MemoryTree();
  protected readonly entries: LogEntry[] = [];
  /** Resubmitting the same certificate returns the first SCT, as real logs do. */
  protected readonly bySubmission = new Map<string, ReturnType<typeof issueSct>>();
  private server?: Awaited<ReturnType<typeof serveLog>>;

  constructor(opts: TestLogOptions, defaultMmd: number) {
    this.name = opts.name;
    this.roots = opts.roots;
    this.clock = opts.clock ?? systemClock;
    this.integration = opts.integration ?? 'immediate';
    this.mmd = opts.mmd ?? defaultMmd;
  }

  get logId(): Buffer {
    return this.key.logId;
  }

  async start(): Promise<this> {
    this.server = await serveLog((req) => this.handle(req));
    this.url = this.server.url;
    this.requests = this.server.requests;
    this.signTree();
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  /**
   * Misbehaves: rewrites its first entry's hash and signs its tree over the forged history, so
   * whoever saw an earlier tree head now sees another history (a split view). Its later tree
   * heads and proofs all follow the forged tree; entries keep their indices.
   */
  forkHistory(): void {
    this.tree = forgedHistory(this.entries);
    this.signTree();
  }

  /** Signs and publishes a tree head (RFC 6962) or checkpoint (static-ct-api) for the tree now. */
  protected abstract signTree(): void;
  protected abstract handle(req: Parameters<Handler>[0]): ReturnType<Handler>;
}
