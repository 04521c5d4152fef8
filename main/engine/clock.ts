/**
 * Time enters the engine only through a Clock, so tests can drive readiness gates,
 * renewal windows and rate-limit ledgers without sleeping.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs fn once at (or after) the absolute time `at` (ms since epoch). */
  at(at: number, fn: () => void): Timer;
}

/** What a wall clock is made of: the time of day and a timer (tests pass fakes). */
export interface TimerSource {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Node's timers run on a monotonic clock that stands still while the machine sleeps (laptop
 * lid shut, suspend) and ignores an NTP step (a Raspberry Pi without a real-time clock sets
 * its time after boot): one long setTimeout can fire days after its moment, a renewal after
 * the expiry. So a wait is made of short chunks, and the time of day is read again after
 * each one; a wake-up is at most one chunk late. (setTimeout also caps at 2^31-1 ms.)
 */
const WALL_CLOCK_CHUNK_MS = 5 * 60_000;

const nodeTimers: TimerSource = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.(); // a planned renewal does not keep a CLI process alive
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function wallClock(source: TimerSource = nodeTimers, chunkMs = WALL_CLOCK_CHUNK_MS): Clock {
  return {
    now: () => source.now(),
    at(at, fn) {
      let handle: unknown;
      const arm = () => {
        const delay = at - source.now();
        handle = source.setTimeout(delay > chunkMs ? arm : fn, Math.max(0, Math.min(delay, chunkMs)));
      };
      arm();
      return { cancel: () => source.clearTimeout(handle) };
    },
  };
}

export const systemClock: Clock = wallClock();

/**
 * A clock that only moves when told to. Timers fire, in time order, when `advance`
 * or `set` passes their due time.
 */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  constructor(private t: number = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.t;
  }

  at(at: number, fn: () => void): Timer {
    const timer = { at, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }

  advance(ms: number): void {
    this.set(this.t + ms);
  }

  set(t: number): void {
    for (;;) {
      const due = this.timers
        .filter((x) => x.live && x.at <= t)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.timers = this.timers.filter((x) => x.live);
    this.t = t;
  }
}
