import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isHomeportError } from '../../main/engine/errors';
import { MemoryTree, nodeHash, verifyInclusion } from '../../main/engine/ct/merkle';
import { logKeyFromSpki } from '../../main/engine/ct/verify';
import {
  dataTileLeafHashes,
  dataTilePath,
  encodeTileIndex,
  inclusionProofFromTiles,
  originOf,
  parseCheckpoint,
  parseDataTile,
  parseHashTile,
  parseSignedNote,
  tilePath,
  tileWidth,
  verifyCheckpoint,
} from '../../main/engine/ct/static-ct';
import { fixtures } from '../helpers/paths';

// Real Sunlight data (see test/fixtures/ct/README.md): Navigli 2025h2's first four tiles and a
// signed Skylight checkpoint.
const navigli = path.join(fixtures, 'ct', 'static-ct', 'navigli2025h2');
const skylight = path.join(fixtures, 'ct', 'static-ct', 'skylight');
const read = (...p: string[]) => readFileSync(path.join(...p));

test('navigli: each entry\'s RFC 6962 leaf hash is the hash in the level-0 tile, and leaf_index is its position', () => {
  let checked = 0;
  for (let t = 0; t < 4; t++) {
    const entries = parseDataTile(read(navigli, dataTilePath(t)));
    const hashes = parseHashTile(read(navigli, tilePath(0, t)), 256);
    assert.equal(entries.length, 256);
    const computed = dataTileLeafHashes(entries);
    entries.forEach((e, i) => {
      assert.ok(computed[i].equals(hashes[i]), `tile ${t} entry ${i}: leaf hash differs from the tile`);
      assert.equal(e.leafIndex, t * 256 + i, `tile ${t} entry ${i}: leaf_index`);
      assert.equal(e.entryType, 'precert');
      assert.equal(e.issuerKeyHash?.length, 32);
      assert.equal(e.preCertificate?.[0], 0x30, 'the precertificate is DER');
      checked++;
    });
  }
  assert.equal(checked, 1024);
});

test('navigli: a changed byte in an entry changes its leaf hash (the check has teeth)', () => {
  const bytes = Buffer.from(read(navigli, dataTilePath(0)));
  const hashes = parseHashTile(read(navigli, tilePath(0, 0)));
  bytes[60] ^= 0x01; // inside the first entry's TBSCertificate
  const [first, second] = dataTileLeafHashes(parseDataTile(bytes));
  assert.ok(!first.equals(hashes[0]));
  assert.ok(second.equals(hashes[1]));
});

test('navigli: inclusion proofs built from real tiles verify against the root of those tiles, partial tiles included', async () => {
  // Level-1 tile 0 holds one hash per full level-0 tile; Sunlight would serve it, we derive it.
  const level0 = [0, 1, 2, 3].map((t) => parseHashTile(read(navigli, tilePath(0, t))));
  const tree = new MemoryTree();
  for (const tile of level0) for (const h of tile) tree.append(h);
  const subtreeOfTile = (hs: Buffer[]) => {
    let row = hs;
    while (row.length > 1) row = row.flatMap((_, i) => (i % 2 ? [] : [nodeHash(row[i], row[i + 1])]));
    return row[0];
  };
  const fetched: string[] = [];
  const source = async (p: string) => {
    fetched.push(p);
    const m = /^tile\/(\d)\/(\d{3})(?:\.p\/(\d+))?$/.exec(p);
    if (!m) return null;
    const [level, index, width] = [Number(m[1]), Number(m[2]), m[3] ? Number(m[3]) : 256];
    const hashes = level === 0 ? level0[index] : level0.map(subtreeOfTile);
    return hashes ? Buffer.concat(hashes.slice(0, width)) : null;
  };
  for (const size of [1024, 1000, 777, 513, 256, 3]) {
    const root = tree.root(size);
    for (const index of [0, 1, 255, 256, 511, 700, 999, 1023].filter((i) => i < size)) {
      const { proof, leafHash } = await inclusionProofFromTiles(index, size, source);
      assert.deepEqual(proof, tree.inclusionProof(index, size), `proof of ${index} in ${size}`);
      assert.ok(leafHash.equals(level0[Math.floor(index / 256)][index % 256]), 'the leaf hash the log holds');
      assert.ok(verifyInclusion(index, size, level0[Math.floor(index / 256)][index % 256], proof, root));
    }
  }
  assert.ok(fetched.includes('tile/0/003.p/232'), 'a tree of 1000 reads the partial level-0 tile');
  assert.ok(fetched.includes('tile/1/000.p/3'), 'and the partial level-1 tile');
});

test('a partial tile the log has since completed is read from the full tile', async () => {
  const level0 = parseHashTile(read(navigli, tilePath(0, 0)));
  const tree = new MemoryTree();
  for (const h of level0.slice(0, 100)) tree.append(h);
  const source = async (p: string) => (p === 'tile/0/000' ? Buffer.concat(level0) : null);
  const { proof } = await inclusionProofFromTiles(42, 100, source);
  assert.ok(verifyInclusion(42, 100, level0[42], proof, tree.root()));
  await assert.rejects(inclusionProofFromTiles(42, 100, async () => null), (e: unknown) => isHomeportError(e) && e.code === 'ct.bad-tile');
});

test('skylight: the checkpoint signature verifies with log.v3.json\'s key; tampering fails', () => {
  const log = JSON.parse(read(skylight, 'log.v3.json').toString('utf8'));
  const key = logKeyFromSpki(log.key);
  const origin = originOf(log.submission_url);
  assert.equal(origin, 'rome2026h1.example.org');
  const note = read(skylight, 'checkpoint').toString('utf8');
  const cp = verifyCheckpoint(note, { origin, key });
  assert.equal(cp.treeSize, 300);
  assert.equal(cp.rootHash.toString('base64'), log.final_tree_head.sha256_root_hash);
  assert.equal(cp.timestamp, log.final_tree_head.timestamp);

  const badSig = (e: unknown) => isHomeportError(e) && e.code === 'ct.log-bad-signature';
  const otherRoot = note.replace('lCkHUpkmVBEms2r2T1K6Og69+wUuuN3MIEW1/ezu2v0=', Buffer.alloc(32, 7).toString('base64'));
  assert.throws(() => verifyCheckpoint(otherRoot, { origin, key }), badSig, 'root hash changed');
  assert.throws(() => verifyCheckpoint(note.replace('\n300\n', '\n301\n'), { origin, key }), badSig, 'tree size changed');
  const sigLine = note.trimEnd().split('\n').at(-1)!;
  const sig = Buffer.from(sigLine.split(' ').at(-1)!, 'base64');
  sig[5] ^= 0x01; // the timestamp the signature covers
  assert.throws(() => verifyCheckpoint(note.replace(sigLine, `— ${origin} ${sig.toString('base64')}`), { origin, key }), badSig, 'timestamp changed');
  const otherKey = logKeyFromSpki(JSON.parse(read(fixtures, 'ct', 'log_list.json').toString('utf8')).operators[0].logs[0].key);
  assert.throws(() => verifyCheckpoint(note, { origin, key: otherKey }), badSig, 'another log\'s key');
  assert.throws(() => verifyCheckpoint(note, { origin: 'other.example/2026h1', key }), (e: unknown) => isHomeportError(e) && e.code === 'ct.bad-checkpoint');
});

test('checkpoints and notes: malformed input gives a clear error, never a crash', () => {
  const bad = (e: unknown) => isHomeportError(e) && e.code === 'ct.bad-checkpoint';
  const note = read(skylight, 'checkpoint').toString('utf8');
  assert.throws(() => parseSignedNote('no signatures\n'), bad);
  assert.throws(() => parseSignedNote(note.trimEnd()), bad, 'missing final newline');
  assert.throws(() => parseSignedNote(note.replace('— ', '- ')), bad, 'hyphen instead of em dash');
  assert.throws(() => parseCheckpoint('origin\n12x\nAAAA\n'), bad);
  assert.throws(() => parseCheckpoint('origin\n012\n' + Buffer.alloc(32).toString('base64') + '\n'), bad, 'leading zero');
  assert.throws(() => parseCheckpoint('origin\n12\n' + Buffer.alloc(31).toString('base64') + '\n'), bad, 'short root');
  const cp = parseCheckpoint('log.example/2026\n5\n' + Buffer.alloc(32).toString('base64') + '\nextension line\n');
  assert.deepEqual(cp.extensions, ['extension line']);
  assert.throws(() => parseDataTile(Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 7])), (e: unknown) => isHomeportError(e) && e.code === 'ct.bad-tile');
  assert.throws(() => parseDataTile(read(navigli, dataTilePath(0)).subarray(0, 5000)), (e: unknown) => isHomeportError(e) && e.code === 'ct.bad-tile');
});

test('tile paths: x-prefixed 3-digit groups and partial tiles, as the skylight log names them', () => {
  assert.equal(encodeTileIndex(0), '000');
  assert.equal(encodeTileIndex(7), '007');
  assert.equal(encodeTileIndex(1000), 'x001/000');
  assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
  assert.equal(tilePath(2, 1234067, 7), 'tile/2/x001/x234/067.p/7');
  assert.equal(dataTilePath(3), 'tile/data/003');
  // Skylight's tree of 300: one full and one partial level-0 tile, a partial level-1 tile.
  const size = 300;
  const paths = [
    tilePath(0, 0, tileWidth(0, 0, size)),
    tilePath(0, 1, tileWidth(0, 1, size)),
    tilePath(1, 0, tileWidth(1, 0, size)),
    dataTilePath(0, tileWidth(0, 0, size)),
    dataTilePath(1, tileWidth(0, 1, size)),
  ];
  assert.deepEqual(paths, ['tile/0/000', 'tile/0/001.p/44', 'tile/1/000.p/1', 'tile/data/000', 'tile/data/001.p/44']);
  for (const p of paths) assert.ok(existsSync(path.join(skylight, p)), `${p} is in the skylight fixture`);
  assert.equal(tileWidth(0, 2, size), 0, 'no third tile yet');
});
