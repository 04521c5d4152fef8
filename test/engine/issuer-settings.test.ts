import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChallengeStore } from '../../main/engine/acme/challenges';
import { ManualClock } from '../../main/engine/clock';
import { Engine } from '../../main/engine/engine';
import type { HomeportError } from '../../main/engine/errors';
import { tmpDir } from '../helpers/tmp';
import { startFakeCa, type FakeCa } from '../acme/fake-ca';

// Two small local ACME CAs (test/acme/fake-ca.ts) that record accounts and orders; both
// answer every order with a problem, which is all this needs: who was asked, and how.
let scratch: string;
let first: FakeCa;
let second: FakeCa;

before(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'homeport-issuer-settings-'));
  for (const d of ['a', 'b']) mkdirSync(path.join(scratch, d));
  const opts = {
    termsOfService: 'https://ca.example/terms',
    orderProblem: { status: 400, problem: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'not in this test' } },
  };
  first = await startFakeCa(path.join(scratch, 'a'), opts);
  second = await startFakeCa(path.join(scratch, 'b'), opts);
});

after(async () => {
  await first?.close();
  await second?.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('a running engine uses changed CA settings at the next order: terms accepted, another CA, e-mail', async () => {
  const engine = await Engine.open({ dataDir: tmpDir(), clock: new ManualClock(Date.now()), challenges: new ChallengeStore(), preflight: false });
  await engine.updateConfig((c) => ({ ...c, cas: [{ ca: first.directoryUrl, caRoot: first.caRootFile }], ct: { ...c.ct, refreshLogList: false } }));
  const { name } = await engine.addCertificate({ names: ['site.example.test'], keyType: 'ec256' });
  try {
    await assert.rejects(engine.issue(name), (e: HomeportError) => e.code === 'acme.tos-not-accepted');
    assert.equal(first.accounts.length, 0);

    // Accepting the terms in the app, then trying again.
    await engine.updateConfig((c) => ({ ...c, acceptTos: true }));
    await assert.rejects(engine.issue(name), (e: HomeportError) => e.code === 'acme.rejectedIdentifier');
    assert.equal(first.accounts.length, 1);
    assert.equal(first.accounts[0]!.termsOfServiceAgreed, true);
    assert.equal(first.orders.length, 1);

    // Switching CA (staging → production, say) and giving an e-mail address.
    await engine.updateConfig((c) => ({ ...c, email: 'ops@example.com', cas: [{ ca: second.directoryUrl, caRoot: second.caRootFile }] }));
    await assert.rejects(engine.issue(name), (e: HomeportError) => e.code === 'acme.rejectedIdentifier');
    assert.equal(first.orders.length, 1, 'the old CA is not asked again');
    assert.equal(second.orders.length, 1);
    assert.deepEqual(second.accounts[0]!.contact, ['mailto:ops@example.com']);
  } finally {
    await engine.close();
  }
});
