import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { ClockCheck, assessClock, sampleFromDateHeader, sampleFromScts } from '../../main/engine/ct/clock-skew';
import { EngineEmitter } from '../../main/engine/events';

const T = Date.UTC(2026, 2, 1, 12, 0, 0);

test('Date header: agreeing clocks are ok, 10 s either way warns with the direction and the fix', () => {
  const ok = assessClock([sampleFromDateHeader(new Date(T).toUTCString(), T - 100, T + 100)]);
  assert.equal(ok.status, 'ok');
  const behind = assessClock([sampleFromDateHeader(new Date(T + 10_000).toUTCString(), T - 50, T + 50)]);
  assert.equal(behind.status, 'behind');
  assert.match(behind.message, /about 11 s behind the CA.s Date header/);
  assert.match(behind.fix ?? '', /NTP/);
  const ahead = assessClock([sampleFromDateHeader(new Date(T - 10_000).toUTCString(), T - 50, T + 50)]);
  assert.equal(ahead.status, 'ahead');
  assert.match(ahead.message, /switched on before browsers accept them/);
});

test('a slow round trip widens the uncertainty instead of raising a false alarm', () => {
  // 4 s apparent offset, but the request took 6 s: nothing is proven.
  const s = sampleFromDateHeader(new Date(T + 4_000).toUTCString(), T - 3_000, T + 3_000)!;
  assert.ok(s.uncertaintyMs >= 3_500);
  assert.equal(assessClock([s]).status, 'ok');
});

test('SCT timestamps later than our receive time prove the clock is behind', () => {
  assert.equal(sampleFromScts([T - 5_000, T - 1_000], T), undefined);
  const v = assessClock([sampleFromScts([T + 1_000, T + 8_000], T)]);
  assert.equal(v.status, 'behind');
  assert.equal(v.offsetMs, 8_000);
  assert.match(v.message, /SCT timestamps/);
});

test('no reference at all is unknown; a garbage Date header is no reference', () => {
  assert.equal(assessClock([]).status, 'unknown');
  assert.equal(sampleFromDateHeader('yesterday-ish', T, T), undefined);
});

test("a real HTTP server's Date header agrees with this machine's clock", async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const sentAt = Date.now();
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const receivedAt = Date.now();
    await res.text();
    const v = assessClock([sampleFromDateHeader(res.headers.get('date')!, sentAt, receivedAt)]);
    assert.equal(v.status, 'ok', v.message);
  } finally {
    server.close();
  }
});

test('ClockCheck emits clock:skew when the verdict changes, and recent good samples clear it', () => {
  const events = new EngineEmitter();
  const seen: string[] = [];
  events.on('clock:skew', (v) => seen.push(v.status));
  const check = new ClockCheck(events, 2);
  check.add(sampleFromDateHeader(new Date(T).toUTCString(), T - 10, T + 10));
  check.add(sampleFromDateHeader(new Date(T).toUTCString(), T - 10, T + 10));
  check.add(sampleFromScts([T + 20_000], T));
  check.add(sampleFromScts([T + 21_000], T));
  check.add(sampleFromDateHeader(new Date(T).toUTCString(), T - 10, T + 10));
  check.add(sampleFromDateHeader(new Date(T).toUTCString(), T - 10, T + 10));
  assert.deepEqual(seen, ['ok', 'behind', 'ok']);
});
