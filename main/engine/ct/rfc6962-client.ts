import { KeyObject, verify } from 'node:crypto';
import { HomeportError } from '../errors';
import { LOG_RESPONSE_LIMIT, LogFetchOptions, logGet, logProtocolError } from './log-fetch';
import { HASH_SHA256, SIG_ECDSA, SIG_RSA } from './sct';

/** A tree head a log signed (RFC 6962 §3.5 / §4.3). */
export interface TreeHead {
  treeSize: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  rootHash: Buffer;
}

/** The TreeHeadSignature input: v1, tree_hash, timestamp, tree_size, root (RFC 6962 §3.5). */
export function treeHeadSignedData(th: TreeHead): Buffer {
  const out = Buffer.alloc(2 + 8 + 8 + 32);
  out[0] = 0; // v1
  out[1] = 1; // signature_type tree_hash
  out.writeBigUInt64BE(BigInt(th.timestamp), 2);
  out.writeBigUInt64BE(BigInt(th.treeSize), 10);
  th.rootHash.copy(out, 18);
  return out;
}

/** Parses a TLS `digitally-signed` struct (hash alg, signature alg, opaque<0..2^16-1>). */
function parseDigitallySigned(ds: Uint8Array): { hashAlg: number; sigAlg: number; signature: Buffer } | null {
  const b = Buffer.from(ds);
  if (b.length < 4 || b.readUInt16BE(2) !== b.length - 4) return null;
  return { hashAlg: b[0], sigAlg: b[1], signature: b.subarray(4) };
}

/** Checks a digitally-signed struct over `data` with a log key (SHA-256 with ECDSA or RSA only, RFC 6962 §2.1.4). */
export function verifyDigitallySigned(data: Uint8Array, ds: Uint8Array, key: KeyObject): boolean {
  const parsed = parseDigitallySigned(ds);
  if (!parsed || parsed.hashAlg !== HASH_SHA256) return false;
  const want = key.asymmetricKeyType === 'ec' ? SIG_ECDSA : key.asymmetricKeyType === 'rsa' ? SIG_RSA : -1;
  if (parsed.sigAlg !== want) return false;
  try {
    return verify('sha256', data, key, parsed.signature);
  } catch {
    return false;
  }
}

/** The answer to get-proof-by-hash: where the entry sits and the audit path to the given tree size. */
export interface InclusionAnswer {
  leafIndex: number;
  auditPath: Buffer[];
}

function b64Field(v: unknown, bytes?: number): Buffer | null {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return null;
  const b = Buffer.from(v, 'base64');
  return bytes === undefined || b.length === bytes ? b : null;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The read side of an RFC 6962 log (§4): the signed tree head, verified with the log's key
 * from the log list, and inclusion proofs by leaf hash. Proof verification is the caller's
 * (it knows which leaf it expects).
 */
export class Rfc6962Client {
  private readonly base: string;

  constructor(
    readonly name: string,
    url: string,
    private readonly key: KeyObject,
    private readonly fetchOptions: LogFetchOptions = {},
  ) {
    this.base = url.endsWith('/') ? url : `${url}/`;
  }

  private async getJson(path: string): Promise<{ status: number; json: unknown; text: string }> {
    const res = await logGet(this.name, this.base + path, LOG_RESPONSE_LIMIT.json, this.fetchOptions);
    const text = res.body.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  async getSth(): Promise<TreeHead> {
    const { status, json, text } = await this.getJson('ct/v1/get-sth');
    if (status !== 200 || typeof json !== 'object' || json === null) {
      throw logProtocolError(this.name, `get-sth answered HTTP ${status}`, { body: text.slice(0, 300) });
    }
    const o = json as Record<string, unknown>;
    const rootHash = b64Field(o.sha256_root_hash, 32);
    const sig = b64Field(o.tree_head_signature);
    if (!isCount(o.tree_size) || !isCount(o.timestamp) || !rootHash || !sig) {
      throw logProtocolError(this.name, 'its signed tree head lacks a field or has a malformed one', { body: text.slice(0, 300) });
    }
    const th: TreeHead = { treeSize: o.tree_size, timestamp: o.timestamp, rootHash };
    if (!verifyDigitallySigned(treeHeadSignedData(th), sig, this.key)) {
      throw new HomeportError(
        'ct.log-bad-signature',
        `The CT log ${this.name} sent a tree head whose signature does not match its key in the log list.`,
        { fix: 'Nothing to do on this machine: the log misbehaves, or the log list is out of date. Homeport will not trust this answer.' },
      );
    }
    return th;
  }

  /**
   * Where the leaf with this hash sits in the tree of `treeSize`, or null when the log says it
   * does not hold it (logs answer 400 or 404 for an unknown hash).
   */
  async getProofByHash(leafHash: Buffer, treeSize: number): Promise<InclusionAnswer | null> {
    const q = `ct/v1/get-proof-by-hash?hash=${encodeURIComponent(leafHash.toString('base64'))}&tree_size=${treeSize}`;
    const { status, json, text } = await this.getJson(q);
    if (status === 400 || status === 404) return null;
    if (status !== 200 || typeof json !== 'object' || json === null) {
      throw logProtocolError(this.name, `get-proof-by-hash answered HTTP ${status}`, { body: text.slice(0, 300) });
    }
    const o = json as Record<string, unknown>;
    const path = Array.isArray(o.audit_path) ? o.audit_path.map((h) => b64Field(h, 32)) : null;
    if (!isCount(o.leaf_index) || !path || path.some((h) => h === null)) {
      throw logProtocolError(this.name, 'its inclusion proof lacks a field or has a malformed one', { body: text.slice(0, 300) });
    }
    return { leafIndex: o.leaf_index, auditPath: path as Buffer[] };
  }

  /** The proof that the tree of `second` entries extends the one of `first` (get-sth-consistency). */
  async getSthConsistency(first: number, second: number): Promise<Buffer[]> {
    const { status, json, text } = await this.getJson(`ct/v1/get-sth-consistency?first=${first}&second=${second}`);
    if (status !== 200 || typeof json !== 'object' || json === null) {
      throw logProtocolError(this.name, `get-sth-consistency answered HTTP ${status}`, { body: text.slice(0, 300) });
    }
    const o = json as Record<string, unknown>;
    const proof = Array.isArray(o.consistency) ? o.consistency.map((h) => b64Field(h, 32)) : null;
    if (!proof || proof.some((h) => h === null)) {
      throw logProtocolError(this.name, 'its consistency proof lacks a field or has a malformed one', { body: text.slice(0, 300) });
    }
    return proof as Buffer[];
  }
}
