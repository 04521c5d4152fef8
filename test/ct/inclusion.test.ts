import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ctReadinessGate } from '../../main/engine/ct/gate';
import { SctInclusion, TreeHeadMemory, monitorInclusion, strictInclusionGate, watchInclusion } from '../../main/engine/ct/inclusion';
import { EngineEmitter, EngineEvents } from '../../main/engine/events';
import { parseSignedLogList } from '../../main/engine/ct/log-list';
import { Rfc6962Client } from '../../main/engine/ct/rfc6962-client';
import { leafHash as merkleLeafHash, verifyConsistency, verifyInclusion } from '../../main/engine/ct/merkle';
import { leafHash, precertSignedEntry } from '../../main/engine/ct/precert';
import { extractEmbeddedScts } from '../../main/engine/ct/sct';
import { StaticCtClient } from '../../main/engine/ct/static-ct';
import { isHomeportError } from '../../main/engine/errors';
import { freePort } from '../helpers/ports';
import { DrivenClock } from '../ct-logs/driven-clock';
import { buildLogList } from '../ct-logs/log-list';
import { CtTestbed, startCtTestbed } from '../ct-logs/testbed';
import { Rfc6962TestLog } from '../ct-logs/rfc6962-log';
import { StaticCtTestLog } from '../ct-logs/static-ct-log';

// The inclusion monitor against the loopback logs: entries that arrive late, a log that never
// merges what it signed (MMD broken), strict mode as a gate, and logs that misbehave.

const clock = new DrivenClock(Date.UTC(2026, 4, 10, 8, 30, 0));
let bed: CtTestbed;
before(async () => {
  bed = await startCtTestbed({ clock });
});
after(() => bed?.stop());

const issuer = () => [new Uint8Array(bed.ca.intermediateDer)];
const codeIs = (code: string) => (e: unknown) => isHomeportError(e) && e.code === code;

test('entries merged late: pending with the reason, then logged once the logs publish (RFC 6962 and static-ct)', async () => {
  await bed.ca.issue({ names: ['early.example.test'], logs: [bed.argon.url, bed.sky.url] });
  bed.argon.integration = 'manual';
  bed.sky.integration = 'manual';
  try {
    const cert = await bed.ca.issue({ names: ['late.example.test'], logs: [bed.argon.url, bed.sky.url] });
    const pending = new Map<string, string>();
    const work = monitorInclusion(cert.certDer, issuer(), bed.list, {
      clock,
      onProgress: (r) => r.status === 'pending' && pending.set(r.logName!, r.message),
    });
    const report = await clock.drive(work, async () => {
      while (pending.size < 2) await new Promise((r) => setImmediate(r));
      bed.argon.integrate();
      bed.sky.publish();
    });
    assert.match(pending.get('Homeport Test Argon')!, /Not yet in Homeport Test Argon: its tree of \d+ entries does not hold it yet\. Next check/);
    assert.match(pending.get('Homeport Test Sky')!, /its latest checkpoint covers (\d+) entries and this one is entry \1/);
    assert.ok(report.allLogged, report.summary);
    for (const r of report.results) {
      assert.equal(r.status, 'logged');
      assert.equal(r.attempts, 2);
      assert.equal(r.checkedAt, r.timestamp + 5_000, 'the first retry comes 5 s later');
    }
  } finally {
    bed.argon.integration = 'immediate';
    bed.sky.integration = 'immediate';
  }
});

test('watchInclusion: progress while pending, then cert:ct-logged with each SCT\'s verdict', async () => {
  bed.sky.integration = 'manual';
  try {
    const cert = await bed.ca.issue({ names: ['watched.example.test'], logs: [bed.argon.url, bed.sky.url] });
    const events = new EngineEmitter();
    const steps: string[] = [];
    const logged: EngineEvents['cert:ct-logged'][] = [];
    events.on('progress', (p) => steps.push(`${p.name}: ${p.step}`));
    events.on('cert:ct-logged', (e) => logged.push(e));
    const work = watchInclusion(events, { name: 'watched', serial: 'abc', certPem: cert.certPem, chainPem: cert.chainPem }, bed.list, { clock });
    await clock.drive(work, async () => {
      while (steps.length < 1) await new Promise((r) => setImmediate(r));
      bed.sky.publish();
    });
    assert.equal(steps.length, 1);
    assert.match(steps[0], /^watched: Not yet in Homeport Test Sky: its latest checkpoint covers/);
    assert.equal(logged.length, 1);
    assert.equal(logged[0].allLogged, true);
    assert.deepEqual(logged[0].scts.map((s) => [s.logName, s.status]), [['Homeport Test Argon', 'logged'], ['Homeport Test Sky', 'logged']]);
    assert.equal(logged[0].serial, 'abc');
  } finally {
    bed.sky.integration = 'immediate';
  }
});

test('a log that never merges the entry: "not logged after the MMD", after backing off up to the MMD', async () => {
  const cert = await bed.ca.issue({ names: ['lagging.example.test'], logs: [bed.argon.url, bed.lagging.url] });
  const attemptsAt: number[] = [];
  const work = monitorInclusion(cert.certDer, issuer(), bed.list, {
    clock,
    onProgress: (r) => r.logName === 'Homeport Test Lagging' && attemptsAt.push(r.checkedAt),
  });
  const report = await clock.drive(work);
  const lag = report.results.find((r) => r.logName === 'Homeport Test Lagging')!;
  const t = lag.timestamp;
  assert.equal(lag.status, 'not-logged');
  assert.match(lag.message, /^Not logged after the MMD: Homeport Test Lagging promised to include it within 1 min of .*, and its tree is still empty\.$/);
  assert.deepEqual(attemptsAt.map((a) => a - t), [0, 5_000, 15_000, 35_000, 60_000], 'retries double, the last one at the MMD');
  assert.equal(lag.attempts, 5);
  assert.equal(report.results.find((r) => r.logName === 'Homeport Test Argon')!.status, 'logged');
  assert.equal(report.allLogged, false);
});

test('a static-ct log that put another entry at the promised leaf_index: not logged, without waiting for the MMD', async () => {
  bed.sky.breakPromises = true;
  try {
    const cert = await bed.ca.issue({ names: ['broken-promise.example.test'], logs: [bed.argon.url, bed.sky.url] });
    const report = await clock.drive(monitorInclusion(cert.certDer, issuer(), bed.list, { clock }));
    const sky = report.results.find((r) => r.logName === 'Homeport Test Sky')!;
    assert.equal(sky.status, 'not-logged');
    assert.equal(sky.attempts, 1);
    assert.match(sky.message, /^Homeport Test Sky holds a different entry at index \d+, the position its SCT promised for this certificate\.$/);
    assert.equal(report.allLogged, false);
  } finally {
    bed.sky.breakPromises = false;
  }
});

test('a corrupt static-ct hash tile (a stale or broken mirror) is asked again, not taken for a broken promise', async () => {
  const cert = await bed.ca.issue({ names: ['corrupt-tile.example.test'], logs: [bed.argon.url, bed.sky.url] });
  bed.sky.corruptHashTiles = 1;
  try {
    const pending: string[] = [];
    const report = await clock.drive(
      monitorInclusion(cert.certDer, issuer(), bed.list, {
        clock,
        onProgress: (r) => r.logName === 'Homeport Test Sky' && r.status === 'pending' && pending.push(r.message),
      }),
    );
    assert.equal(bed.sky.corruptHashTiles, 0, 'the corrupt tile was served');
    const sky = report.results.find((r) => r.logName === 'Homeport Test Sky')!;
    assert.equal(sky.status, 'logged', sky.message);
    assert.equal(sky.attempts, 2);
    assert.match(pending[0], /^Not yet in Homeport Test Sky: its tiles do not lead to its signed checkpoint of \d+ entries\. Next check/);
    assert.ok(report.allLogged, report.summary);
  } finally {
    bed.sky.corruptHashTiles = 0;
  }
});

test('a log that went away: retried until its MMD, then not logged with the reason', async () => {
  const gone = await new Rfc6962TestLog({ name: 'Homeport Test Gone', roots: [bed.ca.rootDer], clock, mmd: 120 }).start();
  const cert = await bed.ca.issue({ names: ['gone.example.test'], logs: [gone.url] });
  await gone.stop();
  const signed = buildLogList([{ name: 'Test Operator C', logs: [{ log: gone, state: 'usable', since: 0 }] }], clock.now());
  const list = parseSignedLogList(signed.json, signed.signature, signed.publicKeyPem);
  const pending: string[] = [];
  const report = await clock.drive(
    monitorInclusion(cert.certDer, issuer(), list, { clock, onProgress: (r) => r.status === 'pending' && pending.push(r.message) }),
  );
  const [r] = report.results;
  assert.equal(r.status, 'not-logged');
  assert.equal(r.checkedAt, r.timestamp + 120_000);
  assert.match(pending[0], /^Not yet in Homeport Test Gone: the CT log Homeport Test Gone cannot be reached \(http:\/\/127\.0\.0\.1:\d+\/ct\/v1\/get-sth: ECONNREFUSED\)\. Next check/);
  assert.match(r.message, /within 2 min of .*, and the CT log Homeport Test Gone cannot be reached/);
});

test('strict mode gate: ready once every trusted log proves inclusion; never when a log breaks its MMD', async () => {
  const lists = () => ({ chrome: bed.list });
  const base = ctReadinessGate({ clock, logLists: lists, applicability: 'public' });
  const strict = strictInclusionGate(base, { clock, logList: () => bed.list });

  const good = await bed.ca.issue({ names: ['strict.example.test'], logs: [bed.argon.url, bed.oldArgon.url, bed.sky.url] });
  const baseVerdict = await base({ certPem: good.certPem, chainPem: good.chainPem, firstIssuance: true });
  const v = await clock.drive(strict({ certPem: good.certPem, chainPem: good.chainPem, firstIssuance: true }));
  assert.equal(v.readyAt, baseVerdict.readyAt, v.reason);
  assert.match(v.reason, /Strict mode: Logged in Homeport Test Argon at tree size \d+ .* Logged in Homeport Test Sky at tree size \d+/);
  assert.doesNotMatch(v.reason, /retired\)/, 'the retired log is not awaited');

  const privateCa = await bed.ca.issue({ names: ['nas.home.arpa'] });
  const privateBase = ctReadinessGate({ clock, logLists: lists });
  const p = await strictInclusionGate(privateBase, { clock, logList: () => bed.list })({ certPem: privateCa.certPem, chainPem: privateCa.chainPem, firstIssuance: true });
  assert.notEqual(p.readyAt, null, 'a private CA\'s certificate without SCTs passes strict mode: CT does not apply');
  assert.match(p.reason, /CT not required/);

  const lagging = await bed.ca.issue({ names: ['strict-lag.example.test'], logs: [bed.argon.url, bed.lagging.url] });
  assert.notEqual((await base({ certPem: lagging.certPem, chainPem: lagging.chainPem, firstIssuance: true })).readyAt, null, 'compliant without strict mode');
  const w = await clock.drive(strict({ certPem: lagging.certPem, chainPem: lagging.chainPem, firstIssuance: true }));
  assert.equal(w.readyAt, null);
  assert.match(w.reason, /^Strict mode: Not logged after the MMD: Homeport Test Lagging/);
});

test('SCTs from unknown logs and SCTs with a bad signature are reported, not followed', async () => {
  const first = await bed.ca.issue({ names: ['one.example.test'], logs: [bed.argon.url] });
  // The second certificate also carries the first one's Argon SCT: a valid SCT, for another certificate.
  const cert = await bed.ca.issue({ names: ['two.example.test'], logs: [bed.argon.url, bed.sky.url], extraScts: [first.scts[0]] });
  const withoutSky = buildLogList([{ name: 'Test Operator A', logs: [{ log: bed.argon, state: 'usable', since: 0 }] }], clock.now());
  const list = parseSignedLogList(withoutSky.json, withoutSky.signature, withoutSky.publicKeyPem);
  const argonAsked = bed.argon.requests.length;
  const report = await clock.drive(monitorInclusion(cert.certDer, issuer(), list, { clock }));
  const statuses = report.results.map((r: SctInclusion) => r.status);
  assert.deepEqual(statuses, ['logged', 'unknown-log', 'not-checked']);
  assert.match(report.results[1].message, /is not in the log list/);
  assert.match(report.results[2].message, /Not checked in Homeport Test Argon: the signature does not match/);
  assert.ok(report.allLogged, 'every SCT that could be followed is logged');
  assert.equal(
    bed.argon.requests.slice(argonAsked).filter((r) => r.startsWith('GET /ct/v1/get-sth')).length,
    1,
    'only the valid SCT was followed',
  );
});

test('log clients: a tree head or checkpoint signed by another key is refused; unreachable logs say so', async () => {
  const wrongKey = bed.sky.key.publicKey;
  await assert.rejects(new Rfc6962Client('Argon', bed.argon.url, wrongKey).getSth(), codeIs('ct.log-bad-signature'));
  const good = await new Rfc6962Client('Argon', bed.argon.url, bed.argon.key.publicKey).getSth();
  assert.equal(good.treeSize, bed.argon.treeSize);
  assert.equal(await new Rfc6962Client('Argon', bed.argon.url, bed.argon.key.publicKey).getProofByHash(Buffer.alloc(32, 9), good.treeSize), null);

  await assert.rejects(new StaticCtClient('Sky', bed.sky.url, bed.sky.url, bed.argon.key.publicKey).checkpoint(), codeIs('ct.log-bad-signature'));
  const cp = await new StaticCtClient('Sky', bed.sky.url, bed.sky.url, bed.sky.key.publicKey).checkpoint();
  assert.equal(cp.treeSize, bed.sky.treeSize);
  await assert.rejects(
    new StaticCtClient('Sky', bed.sky.url, 'https://elsewhere.example/2026h1/', bed.sky.key.publicKey).checkpoint(),
    codeIs('ct.bad-checkpoint'),
    'a checkpoint for another origin',
  );

  const closed = `http://127.0.0.1:${await freePort()}/`;
  await assert.rejects(new Rfc6962Client('Gone', closed, wrongKey).getSth(), (e: unknown) => codeIs('ct.log-unreachable')(e) && /Gone cannot be reached/.test((e as Error).message));
  await assert.rejects(new Rfc6962Client('Argon', `${bed.argon.url}nope/`, bed.argon.key.publicKey).getSth(), codeIs('ct.log-bad-response'));
});

test('the RFC 6962 test log\'s read API is sound: get-entries holds the certificate\'s leaf, tree heads are consistent', async () => {
  const client = new Rfc6962Client('Argon', bed.argon.url, bed.argon.key.publicKey);
  const before = await client.getSth();
  const cert = await bed.ca.issue({ names: ['entries.example.test'], logs: [bed.argon.url] });
  const after = await client.getSth();
  assert.equal(after.treeSize, before.treeSize + 1);

  const get = async (path: string) => (await fetch(bed.argon.url + path)).json() as Promise<Record<string, unknown>>;
  const { entries } = (await get(`ct/v1/get-entries?start=${before.treeSize}&end=${before.treeSize}`)) as {
    entries: { leaf_input: string; extra_data: string }[];
  };
  const [sct] = extractEmbeddedScts(cert.certDer);
  const expected = leafHash(sct, precertSignedEntry(cert.certDer, bed.ca.intermediateDer));
  const fromLog = merkleLeafHash(Buffer.from(entries[0].leaf_input, 'base64'));
  assert.ok(fromLog.equals(expected), 'the logged MerkleTreeLeaf is the one Homeport computes from the certificate');
  assert.ok(Buffer.from(entries[0].extra_data, 'base64').includes(cert.precertDer), 'extra_data carries the precertificate');

  const proof = await client.getProofByHash(expected, after.treeSize);
  assert.ok(proof && verifyInclusion(proof.leafIndex, after.treeSize, expected, proof.auditPath, after.rootHash));
  const { consistency } = (await get(`ct/v1/get-sth-consistency?first=${before.treeSize}&second=${after.treeSize}`)) as { consistency: string[] };
  const path = consistency.map((h) => Buffer.from(h, 'base64'));
  assert.ok(verifyConsistency(before.treeSize, after.treeSize, before.rootHash, after.rootHash, path));
  assert.ok(!verifyConsistency(before.treeSize, after.treeSize, after.rootHash, after.rootHash, path));
});

/**
 * A log of its own under a signed list that names only it, and `follow`: issues a certificate
 * logged there and monitors its inclusion, with one tree-head memory across calls.
 */
function followOn(log: Rfc6962TestLog | StaticCtTestLog, operator: string) {
  const built = buildLogList([{ name: operator, logs: [{ log, state: 'usable', since: 0 }] }], clock.now());
  const list = parseSignedLogList(built.json, built.signature, built.publicKeyPem);
  const treeHeads: TreeHeadMemory = new Map();
  const follow = async (name: string) => {
    const cert = await bed.ca.issue({ names: [name], logs: [log.url] });
    const report = await clock.drive(monitorInclusion(cert.certDer, issuer(), list, { clock, treeHeads }));
    return { result: report.results[0]!, report };
  };
  return { treeHeads, follow };
}

test('split view: a later tree head is checked against the earlier one with get-sth-consistency; a forked log is reported inconsistent', async () => {
  const log = await new Rfc6962TestLog({ name: 'Homeport Test Forking', roots: [bed.ca.rootDer], clock }).start();
  try {
    const { follow } = followOn(log, 'Test Operator F');
    const consistencyAsked = () => log.requests.filter((r) => r.includes('get-sth-consistency')).length;
    const followCounting = async (name: string) => {
      const before = consistencyAsked();
      const f = await follow(name);
      return { ...f, asked: consistencyAsked() - before };
    };

    const first = await followCounting('split-1.example.test');
    assert.equal(first.result.status, 'logged');
    assert.equal(first.asked, 0, 'nothing seen before: nothing to compare');
    const honest = await followCounting('split-2.example.test');
    assert.equal(honest.result.status, 'logged', honest.result.message);
    assert.equal(honest.asked, 1, 'the larger tree was checked against the one seen before');

    log.forkHistory();
    const forked = await followCounting('split-3.example.test');
    assert.equal(forked.asked, 1);
    assert.equal(forked.result.status, 'inconsistent');
    assert.equal(forked.report.allLogged, false);
    assert.match(forked.result.message, /^Homeport Test Forking is inconsistent: its tree head of 3 entries .* is not an extension of its tree head of 2 entries .*\(a split view\)/);
  } finally {
    await log.stop();
  }
});

test('split view of a static-ct log: each checkpoint is linked to the last one by a proof computed from its tiles; a forked log is reported inconsistent', async () => {
  const log = await new StaticCtTestLog({ name: 'Homeport Test Forking Tiles', roots: [bed.ca.rootDer], clock }).start();
  try {
    const { follow, treeHeads } = followOn(log, 'Test Operator G');
    assert.equal((await follow('tiles-1.example.test')).result.status, 'logged');
    const honest = await follow('tiles-2.example.test');
    assert.equal(honest.result.status, 'logged', honest.result.message);
    assert.equal(treeHeads.get(log.logId.toString('base64'))?.treeSize, 2, 'the newer checkpoint is remembered once linked to the older one');

    // The forged tree is consistent in itself (the new entry's inclusion proof verifies against
    // its checkpoint): only the link to the checkpoint seen before can tell.
    log.forkHistory();
    const forked = await follow('tiles-3.example.test');
    assert.equal(forked.result.status, 'inconsistent');
    assert.equal(forked.report.allLogged, false);
    assert.match(forked.result.message, /^Homeport Test Forking Tiles is inconsistent: its checkpoint of 3 entries .* is not an extension of its checkpoint of 2 entries .*\(a split view\)/);
  } finally {
    await log.stop();
  }
});
