import { createHash } from 'node:crypto';

/**
 * The Merkle tree of RFC 6962 §2.1 / RFC 9162 §2.1 (SHA-256, domain-separated leaf and
 * node hashes). Tree sizes of real logs pass 2^31, so index arithmetic uses plain numbers
 * with division, never 32-bit bit operators.
 */

export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(leaf).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** MTH({}) — the root of an empty tree. */
export const EMPTY_ROOT = createHash('sha256').digest();

/** A complete, aligned subtree: the leaves [index·2^level, (index+1)·2^level). */
export interface Subtree {
  level: number;
  index: number;
}

/** Somewhere complete subtree hashes come from: an in-memory tree, or a log's tiles. */
export type SubtreeHashes = (level: number, index: number) => Buffer;

const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A range [start, end) of leaves whose hash a proof carries. */
export interface LeafRange {
  start: number;
  end: number;
}

/**
 * The complete subtrees that make up a range as it appears in RFC 6962 proofs (its start is
 * aligned to its length rounded up to a power of two), left to right, largest first.
 */
export function rangeSubtrees({ start, end }: LeafRange): Subtree[] {
  const out: Subtree[] = [];
  let at = start;
  let size = 2 ** Math.floor(Math.log2(end - start));
  while (at < end) {
    while (size > end - at) size /= 2;
    out.push({ level: Math.log2(size), index: at / size });
    at += size;
  }
  return out;
}

/** MTH(D[start:end]) from complete subtree hashes: the right-leaning fold RFC 6962 defines. */
export function rangeHash(range: LeafRange, hashes: SubtreeHashes): Buffer {
  if (range.end === range.start) return EMPTY_ROOT;
  const parts = rangeSubtrees(range).map((s) => hashes(s.level, s.index));
  let h = parts.pop()!;
  while (parts.length) h = nodeHash(parts.pop()!, h);
  return h;
}

/** The ranges whose hashes form the audit path of leaf `index` in a tree of `size` leaves, leaf side first. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is outside a tree of ${size}`);
  const out: LeafRange[] = [];
  const walk = (m: number, start: number, end: number): void => {
    if (end - start === 1) return;
    const k = splitPoint(end - start);
    if (m - start < k) {
      walk(m, start, start + k);
      out.push({ start: start + k, end });
    } else {
      walk(m, start + k, end);
      out.push({ start, end: start + k });
    }
  };
  walk(index, 0, size);
  return out;
}

/** The ranges of an RFC 6962 §2.1.2 consistency proof between tree sizes `from` and `to`. */
export function consistencyRanges(from: number, to: number): LeafRange[] {
  if (!(from > 0 && from <= to)) throw new RangeError(`no consistency proof from ${from} to ${to}`);
  const out: LeafRange[] = [];
  const walk = (m: number, start: number, end: number, whole: boolean): void => {
    if (m === end - start) {
      if (!whole) out.push({ start, end });
      return;
    }
    const k = splitPoint(end - start);
    if (m <= k) {
      walk(m, start, start + k, whole);
      out.push({ start: start + k, end });
    } else {
      walk(m - k, start + k, end, false);
      out.push({ start, end: start + k });
    }
  };
  walk(from, 0, to, true);
  return out;
}

/** RFC 9162 §2.1.3.2: the root an audit path leads to, or null when the path cannot fit the tree. */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, path: readonly Uint8Array[]): Buffer | null {
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of path) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const r = rootFromInclusionProof(index, size, leaf, path);
  return r !== null && r.equals(root);
}

/** RFC 9162 §2.1.4.2: does the tree of size `to` extend the tree of size `from`? */
export function verifyConsistency(
  from: number,
  to: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (from === to) return proof.length === 0 && Buffer.from(fromRoot).equals(toRoot);
  if (!(from > 0 && from < to) || proof.length === 0) return false;
  const path = [...proof];
  if (Number.isInteger(Math.log2(from))) path.unshift(fromRoot);
  let fn = from - 1;
  let sn = to - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}

/**
 * A growing tree held in memory, keeping every complete subtree hash, so roots and proofs
 * for any earlier size cost O(log n). The test logs use it; so does anything that replays
 * a run of leaves (e.g. a data tile) to check their hashes.
 */
export class MemoryTree {
  /** levels[l][i] = hash of the complete subtree (l, i). */
  private readonly levels: Buffer[][] = [[]];

  get size(): number {
    return this.levels[0].length;
  }

  /** Appends a leaf by its leaf hash; returns its index. */
  append(hash: Buffer): number {
    const index = this.levels[0].length;
    this.levels[0].push(hash);
    let level = 0;
    let i = index;
    while (odd(i)) {
      const parent = nodeHash(this.levels[level][i - 1], this.levels[level][i]);
      level += 1;
      (this.levels[level] ??= []).push(parent);
      i = half(i);
    }
    return index;
  }

  readonly subtree: SubtreeHashes = (level, index) => {
    const h = this.levels[level]?.[index];
    if (!h) throw new RangeError(`subtree ${level}/${index} is not complete in a tree of ${this.size}`);
    return h;
  };

  root(size = this.size): Buffer {
    return rangeHash({ start: 0, end: size }, this.subtree);
  }

  inclusionProof(index: number, size = this.size): Buffer[] {
    return inclusionRanges(index, size).map((r) => rangeHash(r, this.subtree));
  }

  consistencyProof(from: number, to = this.size): Buffer[] {
    return consistencyRanges(from, to).map((r) => rangeHash(r, this.subtree));
  }
}
