import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { systemClock, wallClock, type TimerSource } from '../../main/engine/clock';

const MINUTE = 60_000;
const DAY = 86_400_000;

/**
 * A machine with two clocks, as Node sees it: timers run on the monotonic one, which stands
 * still while the machine sleeps; the time of day can also jump (NTP step).
 */
function machine(start = Date.UTC(2026, 5, 1)) {
  let wall = start;
  let mono = 0;
  const pending: { due: number; fn: () => void; live: boolean }[] = [];
  const delays: number[] = [];
  const source: TimerSource = {
    now: () => wall,
    setTimeout(fn, ms) {
      delays.push(ms);
      const t = { due: mono + ms, fn, live: true };
      pending.push(t);
      return t;
    },
    clearTimeout: (handle) => void ((handle as { live: boolean }).live = false),
  };
  return {
    clock: wallClock(source),
    delays,
    now: () => wall,
    /** The machine is awake for `ms`: both clocks move, timers fire. */
    run(ms: number) {
      const end = mono + ms;
      for (;;) {
        const t = pending.filter((p) => p.live && p.due <= end).sort((a, b) => a.due - b.due)[0];
        if (!t) break;
        wall += t.due - mono;
        mono = t.due;
        t.live = false;
        t.fn();
      }
      wall += end - mono;
      mono = end;
    },
    /** Asleep, or the time of day stepped: only the wall clock moves. */
    jump(ms: number) {
      wall += ms;
    },
  };
}

test('a long wait is made of chunks of at most five minutes and ends on time', () => {
  const m = machine();
  const at = m.now() + 4 * DAY;
  let firedAt: number | undefined;
  m.clock.at(at, () => (firedAt = m.now()));
  m.run(4 * DAY - 1000);
  assert.equal(firedAt, undefined);
  m.run(1000);
  assert.equal(firedAt, at);
  assert.ok(m.delays.every((d) => d >= 0 && d <= 5 * MINUTE), 'every chunk five minutes at most');
});

test('after the machine slept past the moment (or NTP stepped the clock forward), it fires within one chunk of waking', () => {
  const m = machine();
  const at = m.now() + 4 * DAY;
  let firedAt: number | undefined;
  m.clock.at(at, () => (firedAt = m.now()));
  m.run(MINUTE);
  m.jump(5 * DAY); // the lid was shut for five days; Node's timers did not move
  m.run(5 * MINUTE);
  assert.ok(firedAt !== undefined, 'fired soon after waking, not four days later');
});

test('a clock stepped back does not fire early; cancel() stops a wait between chunks', () => {
  const m = machine();
  const at = m.now() + 2 * 60 * MINUTE;
  let fired = 0;
  m.clock.at(at, () => fired++);
  m.jump(-60 * MINUTE);
  m.run(2 * 60 * MINUTE);
  assert.equal(fired, 0, 'the time of day is an hour short of the moment');
  m.run(60 * MINUTE);
  assert.equal(fired, 1);

  const timer = m.clock.at(m.now() + DAY, () => fired++);
  m.run(2 * 60 * MINUTE);
  timer.cancel();
  m.run(2 * DAY);
  assert.equal(fired, 1);
});

test('systemClock runs on real timers', async () => {
  const t0 = Date.now();
  // Its timers are unref'd: something else keeps this process alive meanwhile.
  const alive = setTimeout(() => undefined, 5_000);
  await new Promise<void>((resolve) => systemClock.at(t0 + 30, resolve));
  clearTimeout(alive);
  assert.ok(Date.now() >= t0 + 30);
});
