import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EMPTY_ROOT,
  MemoryTree,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from '../../main/engine/ct/merkle';
import { type TileSource, consistencyProofFromTiles } from '../../main/engine/ct/static-ct';

// The RFC 6962 reference tree of the certificate-transparency projects (transparency-dev/merkle
// testonly, certificate-transparency-go merkletree tests): its leaves, roots and proofs.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  (h) => Buffer.from(h, 'hex'),
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
];
const CONSISTENCY = [
  { from: 2, to: 8, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { from: 6, to: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { from: 2, to: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
];
const hex = (b: Buffer) => b.toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

function referenceTree(): MemoryTree {
  const t = new MemoryTree();
  for (const l of LEAVES) t.append(leafHash(l));
  return t;
}

test('roots match the RFC 6962 reference tree at every size 0..8', () => {
  const t = referenceTree();
  assert.equal(hex(EMPTY_ROOT), ROOTS[0]);
  for (let n = 0; n <= LEAVES.length; n++) assert.equal(hex(t.root(n)), ROOTS[n], `size ${n}`);
});

test('inclusion proofs are the reference ones and verify; any tampering fails', () => {
  const t = referenceTree();
  for (const v of INCLUSION) {
    const proof = t.inclusionProof(v.index, v.size);
    assert.deepEqual(proof.map(hex), v.proof);
    const leaf = leafHash(LEAVES[v.index]);
    const root = unhex(ROOTS[v.size]);
    assert.ok(verifyInclusion(v.index, v.size, leaf, proof, root));
    assert.ok(!verifyInclusion(v.index + 1, v.size, leaf, proof, root), 'wrong index');
    assert.ok(!verifyInclusion(v.index, v.size * 2, leaf, proof, root), 'tree twice as big');
    assert.ok(!verifyInclusion(v.index % 4, v.size / 2, leaf, proof, root), 'tree half as big');
    assert.ok(!verifyInclusion(v.index, v.size, leafHash(Buffer.from('another leaf')), proof, root), 'wrong leaf');
    assert.ok(!verifyInclusion(v.index, v.size, leaf, proof.slice(1), root), 'short path');
    assert.ok(!verifyInclusion(v.index, v.size, leaf, [...proof, proof[0]], root), 'long path');
    const bad = proof.map((p) => Buffer.from(p));
    bad[1][0] ^= 1;
    assert.ok(!verifyInclusion(v.index, v.size, leaf, bad, root), 'flipped bit');
  }
  assert.equal(rootFromInclusionProof(8, 8, leafHash(LEAVES[0]), []), null, 'index past the tree');
});

test('consistency proofs are the reference ones and verify; mismatches fail', () => {
  const t = referenceTree();
  for (const v of CONSISTENCY) {
    const proof = t.consistencyProof(v.from, v.to);
    assert.deepEqual(proof.map(hex), v.proof);
    assert.ok(verifyConsistency(v.from, v.to, unhex(ROOTS[v.from]), unhex(ROOTS[v.to]), proof));
    assert.ok(!verifyConsistency(v.from, v.to, unhex(ROOTS[v.from - 1]), unhex(ROOTS[v.to]), proof), 'wrong old root');
    assert.ok(!verifyConsistency(v.from, v.to, unhex(ROOTS[v.from]), unhex(ROOTS[v.to - 1]), proof), 'wrong new root');
    assert.ok(!verifyConsistency(v.from, v.to, unhex(ROOTS[v.from]), unhex(ROOTS[v.to]), proof.slice(0, -1)), 'short proof');
  }
  assert.ok(verifyConsistency(4, 4, unhex(ROOTS[4]), unhex(ROOTS[4]), []), 'same size, same root');
  assert.ok(!verifyConsistency(4, 4, unhex(ROOTS[4]), unhex(ROOTS[3]), []), 'same size, other root');
});

test('every proof in every tree up to 70 leaves verifies (all shapes of the recursion)', () => {
  const t = new MemoryTree();
  for (let i = 0; i < 70; i++) t.append(leafHash(Buffer.of(i, i * 7)));
  for (let n = 1; n <= 70; n++) {
    const root = t.root(n);
    for (let i = 0; i < n; i++) {
      assert.ok(verifyInclusion(i, n, leafHash(Buffer.of(i, i * 7)), t.inclusionProof(i, n), root), `leaf ${i} of ${n}`);
      assert.equal(inclusionRanges(i, n).length, t.inclusionProof(i, n).length);
    }
    for (let m = 1; m <= n; m++) {
      assert.ok(verifyConsistency(m, n, t.root(m), root, t.consistencyProof(m, n)), `consistency ${m} → ${n}`);
    }
  }
  assert.throws(() => consistencyRanges(0, 3), RangeError);
});

test('index arithmetic stays exact beyond 2^32 leaves', () => {
  // A path for a leaf in a 6-billion-entry tree has the right length and ranges stay aligned.
  const size = 6_000_000_123;
  const ranges = inclusionRanges(5_999_999_999, size);
  for (const r of ranges) assert.ok(Number.isSafeInteger(r.start) && r.end <= size && r.start < r.end);
  assert.equal(ranges.reduce((s, r) => s + (r.end - r.start), 0), size - 1, 'the path covers every other leaf exactly once');
});

/** The hash tiles a static-ct-api log of `size` entries serves, from a tree of at least that size. */
function hashTiles(tree: MemoryTree, size: number): TileSource {
  return async (path) => {
    const m = /^tile\/(\d+)\/((?:x\d{3}\/)*\d{3})(?:\.p\/(\d+))?$/.exec(path);
    if (!m) return null;
    const level = Number(m[1]);
    const index = Number(m[2]!.replace(/[x/]/g, ''));
    const width = m[3] === undefined ? 256 : Number(m[3]);
    if (width > Math.floor(size / 256 ** level) - index * 256) return null;
    return Buffer.concat(Array.from({ length: width }, (_, i) => tree.subtree(8 * level, index * 256 + i)));
  };
}

test('consistency proofs computed from hash tiles link two checkpoints, across tile boundaries; a forked history fails', async () => {
  const honest = new MemoryTree();
  const forked = new MemoryTree();
  for (let i = 0; i < 66_000; i++) {
    const leaf = leafHash(Buffer.from(`entry ${i}`));
    honest.append(leaf);
    forked.append(i === 300 ? leafHash(Buffer.from('a forged entry')) : leaf);
  }
  const pairs: [number, number][] = [[1, 2], [3, 7], [255, 256], [256, 257], [300, 511], [1000, 65_536], [65_535, 65_537], [70, 66_000], [65_536, 66_000]];
  for (const [from, to] of pairs) {
    const proof = await consistencyProofFromTiles(from, to, hashTiles(honest, to));
    assert.deepEqual(proof, honest.consistencyProof(from, to), `${from} → ${to}: the proof the tree itself gives`);
    assert.ok(verifyConsistency(from, to, honest.root(from), honest.root(to), proof), `${from} → ${to}`);
  }
  // A log that rewrote entry 300 after publishing 301 entries: its newer tiles cannot link the old checkpoint.
  const rewritten = await consistencyProofFromTiles(301, 66_000, hashTiles(forked, 66_000));
  assert.equal(verifyConsistency(301, 66_000, honest.root(301), forked.root(66_000), rewritten), false);
  // Its tiles still prove consistency with what it published before entry 300, which it did not change.
  const before = await consistencyProofFromTiles(300, 66_000, hashTiles(forked, 66_000));
  assert.ok(verifyConsistency(300, 66_000, honest.root(300), forked.root(66_000), before));
});
