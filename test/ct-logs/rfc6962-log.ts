import { LogEntry, TestLog, type TestLogOptions, entryFromSubmission, issueSct, leafHashOf, merkleTreeLeaf, vec24 } from './log-core';

/**
 * An RFC 6962 log on loopback: add-chain, add-pre-chain, get-sth, get-sth-consistency,
 * get-proof-by-hash, get-entries, get-roots (RFC 6962 §4). How it merges submitted entries
 * into its tree is the test's choice: at once, when told (`integrate()`), or never (a log
 * that breaks its MMD promise).
 */
export type { Integration, TestLogOptions } from './log-core';

export interface SignedTreeHeadJson {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
}

export class Rfc6962TestLog extends TestLog {
  readonly kind = 'rfc6962' as const;
  private readonly pending: LogEntry[] = [];
  private readonly indexByLeafHash = new Map<string, number>();
  private sth!: SignedTreeHeadJson;

  constructor(opts: TestLogOptions) {
    super(opts, 86_400);
  }

  get treeSize(): number {
    return this.sth.tree_size;
  }

  /** Merges every pending entry into the tree and signs a new tree head. */
  integrate(): void {
    for (const e of this.pending.splice(0)) {
      const hash = leafHashOf(e);
      this.indexByLeafHash.set(hash.toString('base64'), this.tree.append(hash));
      this.entries.push(e);
    }
    this.signTree();
  }

  protected signTree(): void {
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

  protected handle(req: { method: string; path: string; query: URLSearchParams; body: unknown }) {
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
