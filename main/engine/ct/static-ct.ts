import { KeyObject, createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { HomeportError } from '../errors';
import { LOG_RESPONSE_LIMIT, LogFetchOptions, logGet, logProtocolError } from './log-fetch';
import { LeafRange, SubtreeHashes, consistencyRanges, inclusionRanges, leafHash, nodeHash, rangeHash, rangeSubtrees } from './merkle';
import { TreeHead, treeHeadSignedData, verifyDigitallySigned } from './rfc6962-client';

/**
 * static-ct-api (c2sp.org/static-ct-api): a CT log published as a signed checkpoint plus
 * immutable tiles of hashes and entries (c2sp.org/tlog-tiles), instead of RFC 6962's
 * query endpoints. The checkpoint is a signed note (c2sp.org/signed-note) whose
 * signature is an RFC 6962 tree head signature, so the log's key from the log list checks it.
 */

// ── Signed notes and checkpoints ─────────────────────────────────────────────

export interface NoteSignature {
  name: string;
  /** First 4 bytes of the decoded signature: which key signed. */
  keyId: Buffer;
  /** The rest: the signature itself, in the key type's own format. */
  signature: Buffer;
}

export interface SignedNote {
  /** The signed text, ending with a newline. */
  text: string;
  signatures: NoteSignature[];
}

export interface Checkpoint {
  /** The log's origin line: its submission prefix without the scheme (e.g. `log.example/2026h1`). */
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  /** Optional extension lines after the root hash. */
  extensions: string[];
}

/** A checkpoint whose log signature checked out, with the time the log signed it. */
export interface VerifiedCheckpoint extends Checkpoint {
  timestamp: number;
}

function badNote(what: string): HomeportError {
  return new HomeportError('ct.bad-checkpoint', `A CT log's checkpoint is malformed: ${what}.`, {
    fix: 'Usually temporary on the log\'s side; Homeport tries again later.',
  });
}

const EM_DASH = '\u2014';

/** Splits a signed note into its text and signature lines (c2sp.org/signed-note). */
export function parseSignedNote(note: string): SignedNote {
  const sep = note.lastIndexOf('\n\n');
  if (sep < 0) throw badNote('it has no signature block');
  const text = note.slice(0, sep + 1);
  const sigBlock = note.slice(sep + 2);
  if (!sigBlock.endsWith('\n')) throw badNote('it does not end with a newline');
  if (/[\x00-\x09\x0b-\x1f\x7f]/.test(note)) throw badNote('it contains control characters');
  const signatures = sigBlock
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const m = new RegExp(`^${EM_DASH} (\\S+) ([A-Za-z0-9+/]+={0,2})$`).exec(line);
      if (!m || m[1].includes('+')) throw badNote(`"${line.slice(0, 80)}" is not a signature line`);
      const raw = Buffer.from(m[2], 'base64');
      if (raw.length < 5) throw badNote('a signature is too short');
      return { name: m[1], keyId: raw.subarray(0, 4), signature: raw.subarray(4) };
    });
  return { text, signatures };
}

/** Parses a checkpoint's text (c2sp.org/tlog-checkpoint): origin, tree size, root hash, extensions. */
export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.length < 3) throw badNote('it needs an origin, a tree size and a root hash line');
  const [origin, size, root, ...extensions] = lines;
  if (!origin) throw badNote('the origin line is empty');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw badNote(`"${size.slice(0, 30)}" is not a tree size`);
  }
  const rootHash = /^[A-Za-z0-9+/]{43}=$/.test(root) ? Buffer.from(root, 'base64') : null;
  if (!rootHash || rootHash.length !== 32) throw badNote('the root hash is not 32 bytes of base64');
  if (extensions.some((l) => l === '')) throw badNote('it has an empty extension line');
  return { origin, treeSize: Number(size), rootHash, extensions };
}

/** RFC 6962 log id: SHA-256 of the DER SubjectPublicKeyInfo. */
function logIdOf(key: KeyObject): Buffer {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest();
}

/** Signature type 0x05 of c2sp.org/signed-note: an RFC 6962 tree head signature. */
const NOTE_SIG_RFC6962 = 0x05;

/** The key id of an RFC 6962 note key: SHA-256(name || "\n" || 0x05 || log id)[:4]. */
export function rfc6962NoteKeyId(name: string, logId: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from(`${name}\n`, 'utf8'))
    .update(Buffer.of(NOTE_SIG_RFC6962))
    .update(logId)
    .digest()
    .subarray(0, 4);
}

/** The log's submission prefix without scheme or trailing slash: what its checkpoint's origin must say. */
export function originOf(submissionUrl: string): string {
  return submissionUrl.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

/**
 * Checks a checkpoint against the log it claims to come from: the origin line, then the
 * log's own signature (found by name and key id; other signers such as witnesses are
 * ignored), which must be an RFC 6962 tree head signature over exactly this tree head.
 */
export function verifyCheckpoint(note: string, log: { origin: string; key: KeyObject }): VerifiedCheckpoint {
  const { text, signatures } = parseSignedNote(note);
  const cp = parseCheckpoint(text);
  if (cp.origin !== log.origin) {
    throw new HomeportError(
      'ct.bad-checkpoint',
      `The checkpoint is for "${cp.origin}", not for the log "${log.origin}" it was fetched from.`,
      { fix: 'The log\'s monitoring URL in the log list may be wrong; update the log list.' },
    );
  }
  const keyId = rfc6962NoteKeyId(log.origin, logIdOf(log.key));
  const mine = signatures.filter((s) => s.name === log.origin && s.keyId.equals(keyId));
  for (const s of mine) {
    if (s.signature.length < 8 + 4) continue;
    const timestamp = Number(s.signature.readBigUInt64BE(0));
    const th: TreeHead = { treeSize: cp.treeSize, timestamp, rootHash: cp.rootHash };
    if (Number.isSafeInteger(timestamp) && verifyDigitallySigned(treeHeadSignedData(th), s.signature.subarray(8), log.key)) {
      return { ...cp, timestamp };
    }
  }
  throw new HomeportError(
    'ct.log-bad-signature',
    mine.length
      ? `The checkpoint of the CT log ${log.origin} carries a signature that does not match the log's key.`
      : `The checkpoint of the CT log ${log.origin} is not signed by the log's key from the log list.`,
    { fix: 'Nothing to do on this machine: the log misbehaves, or the log list is out of date. Homeport will not trust this checkpoint.' },
  );
}

// ── Tiles (c2sp.org/tlog-tiles) ──────────────────────────────────────────────

/** Each tile holds 2^8 hashes of one level; tile level L stores tree level 8·L. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

/** A tile index as a path: zero-padded 3-digit groups, all but the last prefixed with "x". */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad tile index ${n}`);
  let s = String(n);
  s = s.padStart(Math.ceil(s.length / 3) * 3, '0');
  const groups = s.match(/.../g)!;
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

const partial = (width: number) => (width < TILE_WIDTH ? `.p/${width}` : '');

/** Path of a hash tile; `width` below 256 names a partial tile. */
export function tilePath(level: number, index: number, width = TILE_WIDTH): string {
  return `tile/${level}/${encodeTileIndex(index)}${partial(width)}`;
}

/** Path of a data tile (the entries behind level-0 tile `index`). */
export function dataTilePath(index: number, width = TILE_WIDTH): string {
  return `tile/data/${encodeTileIndex(index)}${partial(width)}`;
}

/** How many hashes tile (level, index) holds in a tree of `treeSize` (0 when it does not exist yet). */
export function tileWidth(level: number, index: number, treeSize: number): number {
  const stored = Math.floor(treeSize / 2 ** (TILE_HEIGHT * level));
  return Math.max(0, Math.min(TILE_WIDTH, stored - index * TILE_WIDTH));
}

/** One entry of a data tile (static-ct-api TileLeaf). */
export interface TileLeaf {
  timestamp: number;
  entryType: 'x509' | 'precert';
  /** x509: the certificate. precert: the TBSCertificate as the log signed it. */
  signedCert: Buffer;
  /** precert only: SHA-256 of the final issuer's SubjectPublicKeyInfo. */
  issuerKeyHash?: Buffer;
  /** precert only: the precertificate as submitted. */
  preCertificate?: Buffer;
  extensions: Buffer;
  /** The leaf_index extension: where the log says this entry sits. */
  leafIndex?: number;
  /** SHA-256 fingerprints of the chain certificates (served under issuer/). */
  chain: Buffer[];
  /** The RFC 6962 MerkleTreeLeaf these bytes stand for (hash it with leafHash). */
  merkleTreeLeaf: Buffer;
}

function badTile(what: string): HomeportError {
  return new HomeportError('ct.bad-tile', `A CT log's data tile is malformed: ${what}.`, {
    fix: 'Usually temporary on the log\'s side; Homeport tries again later.',
  });
}

/** Walks TLS-encoded bytes, failing with a tile error rather than reading past the end. */
class TlsReader {
  pos = 0;
  constructor(readonly b: Buffer) {}
  take(n: number, what: string): Buffer {
    if (this.pos + n > this.b.length) throw badTile(`${what} runs past the end`);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  uint(n: number, what: string): number {
    return this.take(n, what).readUIntBE(0, n);
  }
  vec(lenBytes: number, what: string): Buffer {
    return this.take(this.uint(lenBytes, `${what} length`), what);
  }
  get done(): boolean {
    return this.pos >= this.b.length;
  }
}

/** The leaf_index in CtExtensions (extension type 0, uint40), if present. */
export function leafIndexExtension(extensions: Buffer): number | undefined {
  const r = new TlsReader(extensions);
  while (!r.done) {
    const type = r.uint(1, 'an extension type');
    const data = r.vec(2, 'an extension');
    if (type === 0) {
      if (data.length !== 5) throw badTile('a leaf_index extension is not 5 bytes');
      return data.readUIntBE(0, 5);
    }
  }
  return undefined;
}

/** Parses a data tile (gzip or plain) into its entries. */
export function parseDataTile(bytes: Uint8Array): TileLeaf[] {
  let b = Buffer.from(bytes);
  if (b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw badTile(`it is gzip but does not decompress (${(e as Error).message})`);
    }
  }
  const r = new TlsReader(b);
  const out: TileLeaf[] = [];
  while (!r.done) {
    const start = r.pos;
    const timestamp = Number(r.take(8, 'a timestamp').readBigUInt64BE(0));
    const type = r.uint(2, 'an entry type');
    let signedCert: Buffer;
    let issuerKeyHash: Buffer | undefined;
    if (type === 0) {
      signedCert = r.vec(3, 'a certificate');
    } else if (type === 1) {
      issuerKeyHash = r.take(32, 'an issuer key hash');
      signedCert = r.vec(3, 'a TBSCertificate');
    } else {
      throw badTile(`entry type ${type} is neither x509 nor precert`);
    }
    const extensions = r.vec(2, 'the extensions');
    // MerkleTreeLeaf = version v1 (0), leaf_type timestamped_entry (0), TimestampedEntry.
    const merkleTreeLeaf = Buffer.concat([Buffer.of(0, 0), r.b.subarray(start, r.pos)]);
    const preCertificate = type === 1 ? r.vec(3, 'a precertificate') : undefined;
    const chainBytes = r.vec(2, 'the chain fingerprints');
    if (chainBytes.length % 32 !== 0) throw badTile('the chain fingerprints are not whole SHA-256 hashes');
    const chain: Buffer[] = [];
    for (let i = 0; i < chainBytes.length; i += 32) chain.push(chainBytes.subarray(i, i + 32));
    out.push({
      timestamp,
      entryType: type === 0 ? 'x509' : 'precert',
      signedCert,
      issuerKeyHash,
      preCertificate,
      extensions,
      leafIndex: leafIndexExtension(extensions),
      chain,
      merkleTreeLeaf,
    });
  }
  return out;
}

/** Splits a hash tile into its 32-byte hashes. */
export function parseHashTile(bytes: Uint8Array, expectedWidth?: number): Buffer[] {
  const b = Buffer.from(bytes);
  if (b.length % 32 !== 0) throw badTile('a hash tile is not a whole number of hashes');
  const hashes: Buffer[] = [];
  for (let i = 0; i < b.length; i += 32) hashes.push(b.subarray(i, i + 32));
  if (expectedWidth !== undefined && hashes.length < expectedWidth) {
    throw badTile(`a hash tile holds ${hashes.length} hashes where ${expectedWidth} were expected`);
  }
  return hashes;
}

/** The RFC 6962 leaf hashes of a data tile's entries, in order. */
export function dataTileLeafHashes(entries: TileLeaf[]): Buffer[] {
  return entries.map((e) => leafHash(e.merkleTreeLeaf));
}

/** Fetches a tile by its path below the log's monitoring prefix; rejects on failure. */
export type TileSource = (path: string) => Promise<Uint8Array | null>;

interface TileRef {
  level: number;
  index: number;
  width: number;
}

/** An audit path read from tiles, with the leaf hash the log holds at that index. */
export interface TileProof {
  proof: Buffer[];
  leafHash: Buffer;
}

/**
 * The audit path of leaf `index` in the tree of `treeSize`, built from hash tiles, with the
 * leaf hash the log holds there.
 */
export async function inclusionProofFromTiles(index: number, treeSize: number, source: TileSource): Promise<TileProof> {
  const read = await readTiles(inclusionRanges(index, treeSize), [index], treeSize, source);
  return { proof: read.ranges, leafHash: read.leaves[0]! };
}

/**
 * The RFC 6962 consistency proof from tree size `from` to `to`, built from the tiles of the
 * tree of `to`: it links the two checkpoints only if the log's tiles still hold the older
 * tree as their prefix.
 */
export async function consistencyProofFromTiles(from: number, to: number, source: TileSource): Promise<Buffer[]> {
  return (await readTiles(consistencyRanges(from, to), [], to, source)).ranges;
}

/**
 * The hashes of leaf ranges (and of single leaves) in the tree of `treeSize`, from hash
 * tiles: every range is a few complete subtrees, each subtree inside one tile (at most 8
 * levels above that tile's stored hashes). All tiles needed are fetched at once. A partial
 * tile the log has since completed may be gone; the full tile begins with the same hashes,
 * so it serves instead.
 */
async function readTiles(ranges: LeafRange[], leaves: number[], treeSize: number, source: TileSource): Promise<{ ranges: Buffer[]; leaves: Buffer[] }> {
  const refs = new Map<string, TileRef>();
  const refOf = (level: number, subIndex: number): TileRef => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const firstStored = subIndex * 2 ** (level - tileLevel * TILE_HEIGHT);
    const tileIndex = Math.floor(firstStored / TILE_WIDTH);
    return { level: tileLevel, index: tileIndex, width: tileWidth(tileLevel, tileIndex, treeSize) };
  };
  for (const s of [...leaves.map((index) => ({ level: 0, index })), ...ranges.flatMap(rangeSubtrees)]) {
    const ref = refOf(s.level, s.index);
    refs.set(tilePath(ref.level, ref.index, ref.width), ref);
  }
  const tiles = new Map<string, Buffer[]>();
  await Promise.all(
    [...refs].map(async ([path, ref]) => {
      let bytes = await source(path);
      if (bytes === null && ref.width < TILE_WIDTH) bytes = await source(tilePath(ref.level, ref.index));
      if (bytes === null) throw badTile(`the log does not serve ${path}`);
      tiles.set(path, parseHashTile(bytes, ref.width));
    }),
  );
  const subtree: SubtreeHashes = (level, subIndex) => {
    const ref = refOf(level, subIndex);
    const hashes = tiles.get(tilePath(ref.level, ref.index, ref.width))!;
    const height = level - ref.level * TILE_HEIGHT;
    const first = subIndex * 2 ** height - ref.index * TILE_WIDTH;
    let row = hashes.slice(first, first + 2 ** height);
    while (row.length > 1) {
      const up: Buffer[] = [];
      for (let i = 0; i < row.length; i += 2) up.push(nodeHash(row[i], row[i + 1]));
      row = up;
    }
    return row[0];
  };
  return { ranges: ranges.map((r) => rangeHash(r, subtree)), leaves: leaves.map((i) => subtree(0, i)) };
}

/**
 * The read side of a static-ct-api log: its checkpoint (verified), and inclusion and
 * consistency proofs computed from its tiles.
 */
export class StaticCtClient {
  private readonly base: string;
  readonly origin: string;

  constructor(
    readonly name: string,
    monitoringUrl: string,
    submissionUrl: string,
    private readonly key: KeyObject,
    private readonly fetchOptions: LogFetchOptions = {},
  ) {
    this.base = monitoringUrl.endsWith('/') ? monitoringUrl : `${monitoringUrl}/`;
    this.origin = originOf(submissionUrl);
  }

  async checkpoint(): Promise<VerifiedCheckpoint> {
    const res = await logGet(this.name, `${this.base}checkpoint`, LOG_RESPONSE_LIMIT.checkpoint, this.fetchOptions);
    if (res.status !== 200) throw logProtocolError(this.name, `its checkpoint answered HTTP ${res.status}`);
    return verifyCheckpoint(res.body.toString('utf8'), { origin: this.origin, key: this.key });
  }

  readonly tile: TileSource = async (path) => {
    const res = await logGet(this.name, this.base + path, LOG_RESPONSE_LIMIT.hashTile, this.fetchOptions);
    if (res.status === 404) return null;
    if (res.status !== 200) throw logProtocolError(this.name, `${path} answered HTTP ${res.status}`);
    return res.body;
  };

  inclusionProof(index: number, treeSize: number): Promise<TileProof> {
    return inclusionProofFromTiles(index, treeSize, this.tile);
  }

  consistencyProof(from: number, to: number): Promise<Buffer[]> {
    return consistencyProofFromTiles(from, to, this.tile);
  }
}
