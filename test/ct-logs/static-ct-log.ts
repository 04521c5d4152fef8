import { createHash } from 'node:crypto';
import { LogEntry, TestLog, type TestLogOptions, entryFromSubmission, issueSct, leafHashOf, timestampedEntry, vec16, vec24 } from './log-core';

/**
 * A static-ct-api log on loopback (c2sp.org/static-ct-api): add-chain and add-pre-chain
 * as in RFC 6962, but the SCT carries the entry's leaf_index and the log is read through
 * a signed checkpoint and tiles (hash tiles, data tiles, issuer certificates). Entries are
 * sequenced at submission; when the checkpoint covering them is published is the test's
 * choice (at once, as Sunlight does before answering, or when told).
 */
const TILE = 256;

function leafIndexExtension(index: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0; // leaf_index
  b.writeUInt16BE(5, 1);
  b.writeUIntBE(index, 3, 5);
  return b;
}

/** Tile index from its path groups: "x001/x234/067" → 1234067. */
function parseIndex(groups: string): number {
  return Number(groups.replace(/x/g, '').replace(/\//g, ''));
}

export class StaticCtTestLog extends TestLog {
  readonly kind = 'static-ct' as const;
  /** Misbehave: promise each new entry its index in the SCT but put a different entry there. */
  breakPromises = false;
  /** Serve this many more level-0 hash tiles with every hash altered, as a corrupt mirror would. */
  corruptHashTiles = 0;
  private readonly issuers = new Map<string, Buffer<ArrayBufferLike>>();
  private published = 0;
  private checkpointText = '';

  /** integration 'immediate': publish before answering; 'manual': publish(); 'never': sequence but never publish. */
  constructor(opts: TestLogOptions) {
    super(opts, 60);
  }

  /** The checkpoint origin: the submission prefix without the scheme. */
  get origin(): string {
    return this.url.replace(/^http:\/\//, '').replace(/\/$/, '');
  }

  get treeSize(): number {
    return this.published;
  }

  /** Signs and publishes a checkpoint for everything sequenced so far. */
  publish(): void {
    this.signTree();
  }

  protected signTree(): void {
    this.published = this.tree.size;
    const timestamp = this.clock.now();
    const root = this.tree.root(this.published);
    const body = `${this.origin}\n${this.published}\n${root.toString('base64')}\n`;
    const data = Buffer.alloc(50);
    data[1] = 1; // v1, tree_hash
    data.writeBigUInt64BE(BigInt(timestamp), 2);
    data.writeBigUInt64BE(BigInt(this.published), 10);
    root.copy(data, 18);
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(timestamp));
    const keyId = createHash('sha256')
      .update(`${this.origin}\n`)
      .update(Buffer.of(0x05))
      .update(this.key.logId)
      .digest()
      .subarray(0, 4);
    const sig = Buffer.concat([keyId, ts, this.key.digitallySign(data)]);
    this.checkpointText = `${body}\n\u2014 ${this.origin} ${sig.toString('base64')}\n`;
  }

  private add(body: unknown, precert: boolean) {
    const index = this.tree.size;
    const entry = entryFromSubmission(body, precert, this.roots, this.clock, leafIndexExtension(index));
    const seen = this.bySubmission.get(entry.submitted.toString('base64'));
    if (seen) return seen;
    this.tree.append(leafHashOf(this.breakPromises ? { ...entry, timestamp: entry.timestamp + 1 } : entry));
    this.entries.push(entry);
    for (const c of entry.chain) this.issuers.set(createHash('sha256').update(c).digest('hex'), c);
    const sct = issueSct(this.key, entry);
    this.bySubmission.set(entry.submitted.toString('base64'), sct);
    if (this.integration === 'immediate') this.publish();
    return sct;
  }

  /** TileLeaf: TimestampedEntry, the precertificate (precert entries), chain fingerprints. */
  private tileLeaf(e: LogEntry): Buffer {
    const fingerprints = Buffer.concat(e.chain.map((c) => createHash('sha256').update(c).digest()));
    return Buffer.concat([timestampedEntry(e), e.type === 'precert' ? vec24(e.submitted) : Buffer.alloc(0), vec16(fingerprints)]);
  }

  protected handle(req: { method: string; path: string; query: URLSearchParams; body: unknown }) {
    if (req.method === 'POST' && req.path === '/ct/v1/add-chain') return { status: 200, json: this.add(req.body, false) };
    if (req.method === 'POST' && req.path === '/ct/v1/add-pre-chain') return { status: 200, json: this.add(req.body, true) };
    if (req.method !== 'GET') return { status: 405, text: 'method not allowed' };
    if (req.path === '/checkpoint') return { status: 200, text: this.checkpointText };
    const issuer = /^\/issuer\/([0-9a-f]{64})$/.exec(req.path);
    if (issuer) {
      const der = this.issuers.get(issuer[1]);
      return der ? { status: 200, bytes: der } : { status: 404, text: 'no such issuer' };
    }
    const m = /^\/tile\/(\d+|data)\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d+))?$/.exec(req.path);
    if (!m) return { status: 404, text: 'not found' };
    const index = parseIndex(m[2]);
    const width = m[3] === undefined ? TILE : Number(m[3]);
    if (width < 1 || width > TILE) return { status: 404, text: 'bad width' };
    const level = m[1] === 'data' ? 0 : Number(m[1]);
    const available = Math.floor(this.published / 2 ** (8 * level)) - index * TILE;
    if (width > available) return { status: 404, text: 'tile not published' };
    const first = index * TILE;
    if (m[1] === 'data') {
      return { status: 200, bytes: Buffer.concat(this.entries.slice(first, first + width).map((e) => this.tileLeaf(e))) };
    }
    const hashes: Buffer[] = [];
    for (let i = first; i < first + width; i++) hashes.push(this.tree.subtree(8 * level, i));
    const bytes = Buffer.concat(hashes);
    if (level === 0 && this.corruptHashTiles > 0) {
      this.corruptHashTiles--;
      for (let i = 0; i < bytes.length; i += 32) bytes[i] ^= 0xff;
    }
    return { status: 200, bytes };
  }
}
