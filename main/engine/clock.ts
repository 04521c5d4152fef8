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

/** Node's setTimeout caps at 2^31-1 ms (~24.8 days); renewal timers can be months away. */
const MAX_DELAY = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  at(at, fn) {
    let handle: NodeJS.Timeout;
    const arm = () => {
      const delay = at - Date.now();
      if (delay <= 0) {
        handle = setTimeout(fn, 0);
      } else {
        handle = setTimeout(delay > MAX_DELAY ? arm : fn, Math.min(delay, MAX_DELAY));
      }
      handle.unref?.();
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
};

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
