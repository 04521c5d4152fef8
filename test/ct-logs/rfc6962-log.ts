import { Clock, systemClock } from '../../main/engine/clock';
import { MemoryTree } from '../../main/engine/ct/merkle';
import { LogEntry, LogKey, entryFromSubmission, forgedHistory, issueSct, leafHashOf, merkleTreeLeaf, serveLog, vec24 } from './log-core';

/**
 * An RFC 6962 log on loopback: add-chain, add-pre-chain, get-sth, get-sth-consistency,
 * get-proof-by-hash, get-entries, get-roots (RFC 6962 §4). How it merges submitted entries
 * into its tree is the test's choice: at once, when told (`integrate()`), or never (a log
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

export interface SignedTreeHeadJson {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
}

export class Rfc6962TestLog {
  readonly kind = 'rfc6962' as const;
  readonly key = new LogKey();
  readonly name: string;
  readonly mmd: number;
  url = '';
  requests: string[] = [];
  integration: Integration;
  private readonly clock: Clock;
  private readonly roots: Buffer[];
  private tree = new MemoryTree();
  private readonly entries: LogEntry[] = [];
  private readonly pending: LogEntry[] = [];
  private readonly indexByLeafHash = new Map<string, number>();
  /** Resubmitting the same certificate returns the first SCT, as real logs do. */
  private readonly bySubmission = new Map<string, ReturnType<typeof issueSct>>();
  private sth!: SignedTreeHeadJson;
  private server?: Awaited<ReturnType<typeof serveLog>>;

  constructor(opts: TestLogOptions) {
    this.name = opts.name;
    this.roots = opts.roots;
    this.clock = opts.clock ?? systemClock;
    this.integration = opts.integration ?? 'immediate';
    this.mmd = opts.mmd ?? 86_400;
    this.signTreeHead();
  }

  get logId(): Buffer {
    return this.key.logId;
  }

  get treeSize(): number {
    return this.sth.tree_size;
  }

  async start(): Promise<this> {
    this.server = await serveLog((req) => this.handle(req));
    this.url = this.server.url;
    this.requests = this.server.requests;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
  }

  /** Merges every pending entry into the tree and signs a new tree head. */
  integrate(): void {
    for (const e of this.pending.splice(0)) {
      const hash = leafHashOf(e);
      this.indexByLeafHash.set(hash.toString('base64'), this.tree.append(hash));
      this.entries.push(e);
    }
    this.signTreeHead();
  }

  /**
   * Misbehaves: rewrites its first entry and signs a tree head over the forged history, so
   * whoever saw an earlier tree head now sees another history (a split view). Its later tree
   * heads and proofs all follow the forged tree; entries keep their indices.
   */
  forkHistory(): void {
    this.tree = forgedHistory(this.entries);
    this.signTreeHead();
  }

  private signTreeHead(): void {
    const size = this.tree.size;
    const timestamp = this.clock.now();
    const root = this.tree.root(size);
    const data = Buffer.alloc(50);
    data[0] = 0; // v1
    data[1] = 1; // tree_hash
    data.writeBigUInt64BE(BigInt(timestamp), 2);
    data.writeBigUInt64BE(BigInt(size), 10);
    root.copy(data, 18);
    this.sth = {
      tree_size: size,
      timestamp,
      sha256_root_hash: root.toString('base64'),
      tree_head_signature: this.key.digitallySign(data).toString('base64'),
    };
  }

  private add(body: unknown, precert: boolean) {
    const entry = entryFromSubmission(body, precert, this.roots, this.clock);
    const seen = this.bySubmission.get(entry.submitted.toString('base64'));
    if (seen) return seen;
    const sct = issueSct(this.key, entry);
    this.bySubmission.set(entry.submitted.toString('base64'), sct);
    if (this.integration !== 'never') this.pending.push(entry);
    if (this.integration === 'immediate') this.integrate();
    return sct;
  }

  private handle(req: { method: string; path: string; query: URLSearchParams; body: unknown }) {
    const q = (k: string) => {
      const v = req.query.get(k);
      return v !== null && /^\d+$/.test(v) ? Number(v) : null;
    };
    const bad = (text: string) => ({ status: 400, text });
    switch (`${req.method} ${req.path}`) {
      case 'POST /ct/v1/add-chain':
        return { status: 200, json: this.add(req.body, false) };
      case 'POST /ct/v1/add-pre-chain':
        return { status: 200, json: this.add(req.body, true) };
      case 'GET /ct/v1/get-sth':
        return { status: 200, json: this.sth };
      case 'GET /ct/v1/get-roots':
        return { status: 200, json: { certificates: this.roots.map((r) => r.toString('base64')) } };
      case 'GET /ct/v1/get-sth-consistency': {
        const [first, second] = [q('first'), q('second')];
        if (first === null || second === null || first < 1 || first > second || second > this.sth.tree_size) {
          return bad('first and second must satisfy 0 < first <= second <= tree size');
        }
        return { status: 200, json: { consistency: this.tree.consistencyProof(first, second).map((h) => h.toString('base64')) } };
      }
      case 'GET /ct/v1/get-proof-by-hash': {
        const size = q('tree_size');
        const index = this.indexByLeafHash.get(req.query.get('hash') ?? '');
        if (size === null || size < 1 || size > this.sth.tree_size) return bad('tree_size is not a published tree size');
        if (index === undefined || index >= size) return bad(`no entry with this hash in the tree of size ${size}`);
        return {
          status: 200,
          json: { leaf_index: index, audit_path: this.tree.inclusionProof(index, size).map((h) => h.toString('base64')) },
        };
      }
      case 'GET /ct/v1/get-entries': {
        const [start, end] = [q('start'), q('end')];
        if (start === null || end === null || start > end || start >= this.sth.tree_size) return bad('bad start/end');
        const slice = this.entries.slice(start, Math.min(end + 1, this.sth.tree_size));
        return {
          status: 200,
          json: {
            entries: slice.map((e) => ({
              leaf_input: merkleTreeLeaf(e).toString('base64'),
              extra_data: extraData(e).toString('base64'),
            })),
          },
        };
      }
      default:
        return { status: 404, text: 'not found' };
    }
  }
}

/** get-entries extra_data: the chain (x509), or the precertificate and its chain (PrecertChainEntry). */
function extraData(e: LogEntry): Buffer {
  const chain = vec24(Buffer.concat(e.chain.map(vec24)));
  return e.type === 'x509' ? chain : Buffer.concat([vec24(e.submitted), chain]);
}
